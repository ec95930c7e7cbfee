"""rapport.html rendered by a real browser (headless Chromium): the charts draw.

Two checks: (1) a probe script, added to a copy of the report only, measures the laid-out
SVG elements (``getBBox``, ``getTotalLength``) and the DOM is dumped with ``--dump-dom``;
(2) a screenshot of the unmodified report is decoded (a small PNG reader below, no imaging
library needed) and must be neither blank nor missing the bar colour.

Skipped with a reason when no Chromium is installed (Debian: ``apt-get install chromium``).
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from tests.unit.test_report import LOSS
from tests.unit.test_tables import CUTOFF, RELEASE, make_published
from transforms.catalog import AFSLAARS, FRAFAFBRUD, FRAFVURD
from transforms.publish.charts import BAR_COLOR
from transforms.publish.report import INFORMATION_LOSS_ROWS, write_report

CHROMIUM = next(
    (
        p
        for p in (
            os.environ.get("LPSTAT_CHROMIUM"),
            shutil.which("chromium"),
            shutil.which("chromium-browser"),
            shutil.which("google-chrome"),
        )
        if p
    ),
    None,
)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="headless Chromium not installed (Debian package 'chromium'; or set LPSTAT_CHROMIUM)",
)

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
]

PROBE = """
<pre id="probe"></pre>
<script>
(function () {
  var out = {svgs: [], bars: [], lines: [], hidden: 0};
  document.querySelectorAll('svg.chart').forEach(function (s) {
    var r = s.getBoundingClientRect();
    out.svgs.push([r.width, r.height]);
  });
  document.querySelectorAll('svg.chart rect.bar').forEach(function (e) {
    var b = e.getBBox(), r = e.getBoundingClientRect();
    out.bars.push([b.width, b.height, r.width, r.height]);
    var st = getComputedStyle(e);
    if (st.display === 'none' || st.visibility === 'hidden') out.hidden++;
  });
  document.querySelectorAll('svg.chart path.line').forEach(function (e) {
    out.lines.push(e.getTotalLength());
  });
  var loss = document.querySelector('figure.informationstab table');
  if (loss) {
    var main = document.querySelector('main'), t = loss.getBoundingClientRect();
    var m = main.getBoundingClientRect();
    out.loss = {width: t.width, height: t.height, right: t.right,
                content_right: m.right - parseFloat(getComputedStyle(main).paddingRight),
                rows: loss.querySelectorAll('tbody tr').length};
  }
  document.getElementById('probe').textContent = JSON.stringify(out);
})();
</script>
"""


@pytest.fixture(scope="module")
def report_path(tmp_path_factory) -> Path:
    frames = {
        "AFSLAARS": make_published(AFSLAARS),
        "FRAFVURD": make_published(FRAFVURD),
        "FRAFAFBRUD": make_published(FRAFAFBRUD),
    }
    path = tmp_path_factory.mktemp("release") / "rapport.html"
    return write_report(path, RELEASE, CUTOFF, frames, informationstab=LOSS)


def run_chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / "profile"
    profile.mkdir(exist_ok=True)
    cmd = [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args]
    proc = subprocess.run(cmd, capture_output=True, timeout=180, check=False)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-2000:]
    return proc


def test_charts_are_laid_out(report_path, tmp_path):
    probe = tmp_path / "probe.html"
    probe.write_text(
        report_path.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"),
        encoding="utf-8",
    )
    proc = run_chromium(tmp_path, "--window-size=1000,1200", "--dump-dom", probe.as_uri())
    dom = proc.stdout.decode("utf-8")
    m = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.DOTALL)
    assert m and m.group(1), "probe script did not run"
    data = json.loads(html.unescape(m.group(1)))
    assert len(data["svgs"]) >= 8
    assert all(w > 100 and h > 50 for w, h in data["svgs"])
    assert len(data["bars"]) > 20 and data["hidden"] == 0
    assert all(bw > 0 and bh > 0 and rw > 0 and rh > 0 for bw, bh, rw, rh in data["bars"])
    assert len(data["lines"]) >= 4 and all(length > 10 for length in data["lines"])
    # the method section's information-loss table is laid out inside the page's text column
    loss = data["loss"]
    assert loss["rows"] == len(INFORMATION_LOSS_ROWS) and loss["width"] > 300
    assert loss["right"] <= loss["content_right"] + 0.5, loss


def test_screenshot_is_not_blank(report_path, tmp_path):
    shot = tmp_path / "rapport.png"
    run_chromium(tmp_path, "--window-size=900,1100", f"--screenshot={shot}", report_path.as_uri())
    width, height, pixels = read_png(shot.read_bytes())
    assert (width, height) == (900, 1100)
    total = width * height
    white = sum(1 for p in pixels if p[0] > 245 and p[1] > 245 and p[2] > 245)
    assert white < 0.97 * total, "screenshot is (nearly) blank"
    bar = tuple(int(BAR_COLOR[i : i + 2], 16) for i in (1, 3, 5))
    bar_pixels = sum(1 for p in pixels if all(abs(p[i] - bar[i]) <= 6 for i in range(3)))
    assert bar_pixels > 0.02 * total, "the bar charts did not draw"
    assert len(set(pixels)) > 50  # text, lines, colours: a real rendering


# --- a small PNG reader (8-bit RGB/RGBA, non-interlaced: what Chromium writes) --------------


def read_png(data: bytes) -> tuple[int, int, list[tuple[int, int, int]]]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat = 8, []
    width = height = channels = 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and color in (2, 6) and interlace == 0, (depth, color, interlace)
            channels = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    raw = zlib.decompress(b"".join(idat))
    stride = width * channels
    prev = bytearray(stride)
    pixels: list[tuple[int, int, int]] = []
    for y in range(height):
        start = y * (stride + 1)
        ftype = raw[start]
        line = bytearray(raw[start + 1 : start + 1 + stride])
        if ftype == 1:
            for i in range(channels, stride):
                line[i] = (line[i] + line[i - channels]) & 0xFF
        elif ftype == 2:
            line = bytearray((a + b) & 0xFF for a, b in zip(line, prev, strict=True))
        elif ftype == 3:
            for i in range(stride):
                left = line[i - channels] if i >= channels else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 0xFF
        elif ftype == 4:
            for i in range(stride):
                a = line[i - channels] if i >= channels else 0
                b = prev[i]
                c = prev[i - channels] if i >= channels else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 0xFF
        else:
            assert ftype == 0, f"unknown PNG filter {ftype}"
        pixels.extend(zip(line[0::channels], line[1::channels], line[2::channels], strict=True))
        prev = line
    return width, height, pixels
