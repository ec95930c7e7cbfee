"""Property tests: thousands of generated requests, valid-ish and garbage, never a 5xx.

In-process (httpx over ASGI, no sockets) for speed, against the fixture releases. Besides
"never 5xx, always a JSON body, errors are {"fejl": ...} without an internal error", three
properties of correct answers: a valid query on a published grouping is answered (refused only
for a combination that published cells cannot give), paging loses and repeats nothing, and a
filter with several members outside detaljering is exactly the sum of the rows it combines
(or "" when one of them is withheld).
"""

from __future__ import annotations

import asyncio
import json

import httpx
import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from serving.app import INTERNAL, create_app
from serving.releases import Answer, ApiError, Column, ReleaseStore, _distinct, sum_text
from tests.integration.release_fixture import RELEASES, members_of, write_release_home
from transforms import catalog as c

pytestmark = pytest.mark.slow  # about a minute

TOKEN = "fuzz-token"
CUBES = list(c.CUBES.values())
#: members per release: an older release has fewer periods (2026K4 is not in 2026-09)
MEMBERS = {r: {cube.underemne: members_of(cube, r) for cube in CUBES} for r in RELEASES}


def fuzz(examples: int):
    return settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )


PATHS = ["/Api/v1/statistik", "/Api/v1/skema"]


class Client:
    """A synchronous face on an in-process httpx client (one event loop for the module)."""

    def __init__(self, app):
        self.loop = asyncio.new_event_loop()
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api")

    def post(self, path: str, content: bytes, headers: dict | None = None) -> httpx.Response:
        h = {"Authorization": f"Bearer {TOKEN}", **(headers or {})}
        return self.loop.run_until_complete(self.http.post(path, content=content, headers=h))

    def close(self):
        self.loop.run_until_complete(self.http.aclose())
        self.loop.close()


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    home = write_release_home(tmp_path_factory.mktemp("fuzz-home"))
    with pytest.MonkeyPatch.context() as mp:
        # httpx's ASGI transport tries to import sniffio on every request (not installed):
        # a millisecond each, a third of the test's time
        mp.setattr(httpx._transports.asgi, "is_running_trio", lambda: False)
        cl = Client(create_app(home, [TOKEN]))
        yield cl
        cl.close()


def check(response: httpx.Response):
    """The invariants every answer keeps; returns the decoded body."""
    assert response.status_code in (200, 400, 401, 404, 405, 413), response.text[:300]
    data = response.json()
    if response.status_code != 200:
        assert isinstance(data, dict) and set(data) == {"fejl"}, data
        assert isinstance(data["fejl"], str) and data["fejl"]
        assert INTERNAL not in data["fejl"] and "Traceback" not in data["fejl"], data["fejl"]
    return data


# --- strategies ------------------------------------------------------------------------------------
# Built once (strategies made inside a draw are slow): per cube, its names and members.

text = st.text(max_size=30)
json_scalar = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | text
json_value = st.recursive(
    json_scalar,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=20,
)
#: a wrong value for any field
garbage = (
    json_scalar
    | st.lists(st.integers() | text, max_size=3)
    | st.dictionaries(text, st.integers(), max_size=2)
)
every_attribute = st.sampled_from(list(c.ATTRIBUTES))


def _per_cube(cube: c.Cube) -> dict:
    members = MEMBERS[RELEASES[-1]][cube.underemne]
    return {
        "measure": st.sampled_from(
            [m.caption for m in cube.measures]
            + [f"[Measures].[{m.caption}]" for m in cube.measures]
        )
        | text,
        "attribute": st.sampled_from(cube.attributes)
        | st.sampled_from(cube.attributes)
        | every_attribute
        | text,
        "members": {a: st.lists(st.sampled_from(members[a]), max_size=4) for a in cube.attributes},
        "underemne": st.sampled_from([cube.underemne] * 3 + list(c.CUBES)),
    }


STRATEGIES = {cube.underemne: _per_cube(cube) for cube in CUBES}
OPTIONS = {
    "indlejret": st.booleans(),
    "tomme_rækker": st.booleans(),
    "formattering": st.sampled_from(["json", "JSON", "csv"]),
    "side": st.integers(-2, 5) | st.integers(0, 10**30),
    "udgivelse": st.sampled_from([*RELEASES, "2025-01", "2026-13", "latest"]),
}


def cased(path: str):
    return st.lists(st.booleans(), min_size=len(path), max_size=len(path)).map(
        lambda flips: "".join(ch.upper() if f else ch.lower() for ch, f in zip(path, flips))
    )


def maybe(draw, strategy):
    """Mostly a draw from the strategy, one time in eight anything."""
    return draw(garbage) if draw(st.integers(0, 7)) == 0 else draw(strategy)


@st.composite
def valid_statistik_bodies(draw):
    """A query the API should answer: a published grouping, real names and members."""
    cube = draw(st.sampled_from(CUBES))
    view = draw(st.sampled_from(cube.views))
    attrs = draw(
        st.lists(st.sampled_from(view.attributes), max_size=len(view.attributes), unique=True)
    )
    if cube.kind == "stock" and not any(c.ATTRIBUTES[a].hierarchy == "Tid" for a in attrs):
        attrs.append(next(a for a in view.attributes if c.ATTRIBUTES[a].hierarchy == "Tid"))
    named_release = draw(st.booleans())
    release = draw(st.sampled_from(RELEASES)) if named_release else RELEASES[-1]
    members = MEMBERS[release][cube.underemne]
    detaljering = [a for a in draw(st.permutations(attrs)) if draw(st.integers(0, 3))]
    filtre = {
        a: draw(st.lists(st.sampled_from(members[a]), min_size=1, max_size=3, unique=True))
        for a in attrs
        if a not in detaljering or draw(st.integers(0, 3)) == 0
    }
    measures = draw(st.lists(st.sampled_from(cube.measures), min_size=1, max_size=3, unique=True))
    body = {
        "område": cube.omraade[0],
        "emne": cube.emne[0],
        "underemne": cube.underemne,
        "nøgletal": [
            m.caption if draw(st.booleans()) else f"[Measures].[{m.caption}]" for m in measures
        ],
        "detaljering": detaljering,
    }
    if filtre or draw(st.booleans()):
        body["filtre"] = filtre
    for field, strategy in (
        ("indlejret", st.booleans()),
        ("tomme_rækker", st.booleans()),
        ("formattering", st.sampled_from(["json", "JSON"])),
        ("side", st.integers(0, 4)),
        ("side_størrelse", st.integers(1, 300)),
    ):
        if draw(st.booleans()):
            body[field] = draw(strategy)
    if named_release:
        body["udgivelse"] = release
    return body


FIELDS = [
    "område",
    "emne",
    "underemne",
    "nøgletal",
    "detaljering",
    "filtre",
    "indlejret",
    "tomme_rækker",
    "formattering",
    "side",
    "side_størrelse",
    "udgivelse",
]


@st.composite
def statistik_bodies(draw):
    """A valid query, or one with a mistake in it: garbage in a field, a missing field, an
    unknown name or member, an unpublished combination, an unknown key, a huge page number."""
    body = draw(valid_statistik_bodies())
    cube = c.CUBES[body["underemne"]]
    s = STRATEGIES[cube.underemne]
    for _ in range(draw(st.integers(0, 2))):
        mistake = draw(st.integers(0, 9))
        if mistake == 0:
            body[draw(st.sampled_from(FIELDS))] = draw(garbage)
        elif mistake == 1:
            body.pop(draw(st.sampled_from(FIELDS)), None)
        elif mistake == 2:
            body["nøgletal"] = (
                [*body.get("nøgletal", []), draw(s["measure"])]
                if isinstance(body.get("nøgletal"), list)
                else []
            )
        elif mistake == 3 and isinstance(body.get("detaljering"), list):
            body["detaljering"] = [*body["detaljering"], draw(s["attribute"])]
        elif mistake == 4 and isinstance(body.get("filtre"), dict):
            key = draw(s["attribute"])
            body["filtre"] = {
                **body["filtre"],
                key: draw(s["members"].get(key, st.lists(text, max_size=2))),
            }
        elif mistake == 5:
            body[draw(text)] = draw(garbage)
        elif mistake == 6:
            body["side"] = draw(st.integers(-2, 10**30))
        elif mistake == 7:
            body["side_størrelse"] = draw(st.integers(-1, 200_000))
        elif mistake == 8:
            # an option with another option's kind of value
            body[draw(st.sampled_from(list(OPTIONS)))] = draw(
                draw(st.sampled_from(list(OPTIONS.values())))
            )
        else:
            body["underemne"] = draw(s["underemne"])
    return body


@st.composite
def skema_bodies(draw):
    cube = draw(st.sampled_from(CUBES))
    body: dict = {}
    for field, value in (
        ("område", cube.omraade[0]),
        ("emne", cube.emne[0]),
        ("underemne", cube.underemne),
    ):
        if not draw(st.integers(0, 3)):
            break
        body[field] = maybe(draw, st.just(value))
    if draw(st.booleans()):
        body["detalje"] = maybe(draw, STRATEGIES[cube.underemne]["attribute"])
    if draw(st.booleans()):
        body["udgivelse"] = maybe(draw, st.sampled_from([*RELEASES, "1999-01"]))
    return body


def encode(body, escaped: bool) -> bytes:
    return json.dumps(body, ensure_ascii=escaped).encode("utf-8")


# --- never a 5xx -----------------------------------------------------------------------------------


@fuzz(600)
@given(body=statistik_bodies(), path=cased("/Api/v1/statistik"), escaped=st.booleans())
def test_statistik_never_fails_on_generated_bodies(client, body, path, escaped):
    response = client.post(path, encode(body, escaped))
    data = check(response)
    if response.status_code == 200:
        if body.get("indlejret") is True:
            assert isinstance(data, dict)
        else:
            assert isinstance(data, list)
            assert all(
                isinstance(r, dict) and all(isinstance(v, str) for v in r.values()) for r in data
            )
            assert len({tuple(r) for r in data}) <= 1  # every row has the same keys, in one order
            size = body.get("side_størrelse") or 100_000
            assert len(data) <= size


@fuzz(300)
@given(body=valid_statistik_bodies(), escaped=st.booleans())
def test_valid_queries_are_answered(client, body, escaped):
    """A published grouping with real names is answered; the only refusals are combinations
    that cannot be computed from published cells."""
    response = client.post("/Api/v1/statistik", encode(body, escaped))
    data = check(response)
    if response.status_code != 200:
        assert (
            "kan ikke lægges sammen" in data["fejl"] or "bestand kan ikke summeres" in data["fejl"]
        )
        assert response.status_code == 400
        return
    rows = data if isinstance(data, list) else [data]
    assert isinstance(data, dict if body.get("indlejret") else list)
    if not body.get("indlejret"):
        keys = [f"{a}.[{c.ATTRIBUTES[a].name}]" for a in body["detaljering"]]
        captions = [m.removeprefix("[Measures].[").removesuffix("]") for m in body["nøgletal"]]
        assert all(list(r) == keys + captions for r in rows)
        assert len(rows) <= body.get("side_størrelse", 100_000)
        if not body.get("tomme_rækker"):
            assert all(any(r[m] for m in captions) for r in rows)


@fuzz(200)
@given(body=skema_bodies(), path=cased("/Api/v1/skema"), escaped=st.booleans())
def test_skema_never_fails_on_generated_bodies(client, body, path, escaped):
    data = check(client.post(path, encode(body, escaped)))
    assert isinstance(data, (list, dict))


@fuzz(300)
@given(body=json_value, path=st.sampled_from(PATHS).flatmap(cased))
def test_any_json_value_is_answered(client, body, path):
    check(client.post(path, encode(body, False)))


@fuzz(300)
@given(
    raw=st.binary(max_size=300),
    path=st.sampled_from(PATHS),
    ctype=st.sampled_from(["application/json", "text/plain", ""]),
)
def test_any_bytes_are_answered(client, raw, path, ctype):
    check(client.post(path, raw, headers={"Content-Type": ctype} if ctype else {}))


@fuzz(100)
@given(token=st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=40))
def test_wrong_tokens_get_401(client, token):
    response = client.loop.run_until_complete(
        client.http.post(
            "/Api/v1/skema", content=b"{}", headers={"Authorization": f"Bearer {token}"}
        )
    )
    assert response.status_code == (200 if token == TOKEN else 401)
    check(response)


# --- properties of correct answers -------------------------------------------------------------------


@st.composite
def published_queries(draw):
    """A query on a published grouping (one view's attributes, a subset), with filters."""
    cube = draw(st.sampled_from(CUBES))
    view = draw(st.sampled_from(cube.views))
    attrs = draw(
        st.lists(
            st.sampled_from(view.attributes), min_size=1, max_size=len(view.attributes), unique=True
        )
    )
    if cube.kind == "stock" and not any(c.ATTRIBUTES[a].hierarchy == "Tid" for a in attrs):
        attrs.append(next(a for a in view.attributes if c.ATTRIBUTES[a].hierarchy == "Tid"))
    members = MEMBERS[RELEASES[-1]][cube.underemne]
    filtre = {}
    for a in attrs:
        if draw(st.integers(0, 2)) == 0:
            filtre[a] = draw(
                st.lists(st.sampled_from(members[a]), min_size=1, max_size=3, unique=True)
            )
    return cube, attrs, filtre


@fuzz(60)
@given(q=published_queries(), size=st.integers(1, 40), data=st.data())
def test_pages_put_together_are_the_whole_answer(client, q, size, data):
    cube, attrs, filtre = q
    det = data.draw(st.permutations(attrs))
    body = {
        "område": cube.omraade[0],
        "emne": cube.emne[0],
        "underemne": cube.underemne,
        "nøgletal": [m.caption for m in cube.measures],
        "detaljering": det,
        "filtre": filtre,
        "tomme_rækker": data.draw(st.booleans()),
    }
    response = client.post("/Api/v1/statistik", encode(body, False))
    if response.status_code == 400:  # a combination refused (non-additive, stock over time)
        assert "kan ikke" in check(response)["fejl"]
        return
    whole = check(response)
    assert isinstance(whole, list)
    size = max(size, -(-len(whole) // 20))  # at most ~20 pages
    pages, side = [], 1
    while True:
        page = check(
            client.post(
                "/Api/v1/statistik", encode({**body, "side": side, "side_størrelse": size}, False)
            )
        )
        assert isinstance(page, list)
        pages.extend(page)
        if len(page) < size:
            break
        side += 1
    assert pages == whole


def _number(text: str) -> int:
    return int(text.replace(".", ""))


@fuzz(120)
@given(q=published_queries(), data=st.data())
def test_members_outside_detaljering_are_summed_exactly(client, q, data):
    """Filtering on several members of an attribute left out of detaljering gives, per row,
    the sum of the rows that keep it in detaljering, or "" when any of them is ""."""
    cube, attrs, filtre = q
    tid = [a for a in attrs if c.ATTRIBUTES[a].hierarchy == "Tid"]
    candidates = [a for a in attrs if not (cube.kind == "stock" and a in tid)]
    if not candidates or len(attrs) < 2 and cube.kind == "stock":
        return
    out = data.draw(st.sampled_from(candidates))
    members = MEMBERS[RELEASES[-1]][cube.underemne][out]
    filtre = {
        **filtre,
        out: data.draw(st.lists(st.sampled_from(members), min_size=2, max_size=4, unique=True)),
    }
    counts = [m.caption for m in cube.measures if m.additive]
    keep = [a for a in attrs if a != out]
    base = {
        "område": cube.omraade[0],
        "emne": cube.emne[0],
        "underemne": cube.underemne,
        "nøgletal": counts,
        "filtre": filtre,
        "tomme_rækker": True,
    }
    combined = check(client.post("/Api/v1/statistik", encode({**base, "detaljering": keep}, False)))
    parts = check(
        client.post("/Api/v1/statistik", encode({**base, "detaljering": keep + [out]}, False))
    )
    assert isinstance(combined, list) and isinstance(parts, list), (combined, parts)
    keys = [f"{a}.[{c.ATTRIBUTES[a].name}]" for a in keep]
    sums: dict[tuple, dict[str, list[str]]] = {}
    for r in parts:
        row = sums.setdefault(tuple(r[k] for k in keys), {m: [] for m in counts})
        for m in counts:
            row[m].append(r[m])
    want = {
        k: {
            m: "" if "" in v else f"{sum(map(_number, v)):,}".replace(",", ".")
            for m, v in row.items()
        }
        for k, row in sums.items()
    }
    assert {tuple(r[k] for k in keys): {m: r[m] for m in counts} for r in combined} == want
    assert len(combined) == len(want)
    # and a non-additive measure is refused rather than combined
    odd = [m.caption for m in cube.measures if not m.additive]
    if odd:
        response = client.post(
            "/Api/v1/statistik", encode({**base, "detaljering": keep, "nøgletal": odd}, False)
        )
        assert response.status_code == 400 and "kan ikke lægges sammen" in check(response)["fejl"]


# --- answers are written column-wise (no dict per row); distinct rows without np.unique ------------


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    home = write_release_home(tmp_path_factory.mktemp("answer-home"))
    return ReleaseStore(home).get()


def _dumps(rows) -> bytes:
    """The JSON a list of rows was written as before: json.dumps, compact, UTF-8."""
    return json.dumps(rows, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


@fuzz(150)
@given(q=published_queries(), data=st.data())
def test_flat_json_is_the_json_of_the_rows(release, q, data):
    cube, attrs, filtre = q
    det = [a for a in data.draw(st.permutations(attrs)) if data.draw(st.integers(0, 3))]
    measures = data.draw(st.lists(st.sampled_from(cube.measures), min_size=1, unique=True))
    try:
        query = release.resolve(
            cube.omraade[0], cube.emne[0], cube.underemne, [m.caption for m in measures], det,
            list(filtre.items()), data.draw(st.booleans()),
        )  # fmt: skip
        answer = release.answer(query)
    except ApiError as e:
        assert "kan ikke" in e.message  # a combination refused (non-additive, stock over time)
        return
    size = data.draw(st.integers(1, max(1, answer.n)))
    start, stop = answer.page(data.draw(st.integers(0, answer.n // size + 2)), size)
    assert answer.flat_json(start, stop) == _dumps(answer.flat(start, stop))
    assert answer.flat_json(0, answer.n) == _dumps(answer.flat(0, answer.n))
    assert len(answer.flat(0, answer.n)) == answer.n


@fuzz(200)
@given(captions=st.lists(st.text(), min_size=1, max_size=6), data=st.data())
def test_any_caption_is_written_as_json(captions, data):
    """Quotes, backslashes, control characters, astral characters, empty captions and nulls."""
    values = captions + [None]
    column = Column(pa.chunked_array([pa.array(values, pa.string())]), captions[:2], "[A].[B].[B]")
    order = np.array(data.draw(st.permutations(range(len(values)))), dtype=np.int64)
    codes = column.codes[order]
    opening, inner = column.members  # '{"key":"caption"' and ',"key":"caption"'
    assert [b"," + m[1:] for m in opening.tolist()] == inner.tolist()
    answer = Answer(["[A].[B].[B]"], [], [(column.captions, opening, codes)], len(codes))
    got = answer.flat_json(0, len(codes))
    assert got == _dumps(answer.flat(0, len(codes)))
    assert [r["[A].[B].[B]"] for r in json.loads(got)] == [
        "" if values[i] is None else values[i] for i in order
    ]


def _distinct_by_unique(codes: list[np.ndarray], sizes: list[int]):
    """The reference: np.unique over the mixed-radix key (the implementation before)."""
    n = len(codes[0])
    if np.prod([float(s + 1) for s in sizes]) < 2**62:
        key = np.zeros(n, dtype=np.int64)
        for c_, s in zip(codes, sizes):
            key = key * (s + 1) + c_ + 1
        _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    else:
        _, first, inverse = np.unique(
            np.stack(codes, axis=1), axis=0, return_index=True, return_inverse=True
        )
    return first, inverse.reshape(-1), len(first) < n


@fuzz(300)
@given(
    sizes=st.lists(st.integers(1, 6) | st.just(2**31), min_size=1, max_size=4),
    n=st.integers(0, 40),
    ordered=st.booleans(),
    data=st.data(),
)
def test_distinct_combinations_are_those_of_np_unique(sizes, n, ordered, data):
    codes = [
        np.array(data.draw(st.lists(st.integers(-1, min(s, 8) - 2), min_size=n, max_size=n)),
                 dtype=np.int64)
        for s in sizes
    ]  # fmt: skip
    if ordered and n:  # rows already in member order (as cells.parquet is)
        order = np.lexsort(codes[::-1])
        codes = [c_[order] for c_ in codes]
    first, inverse, combined = _distinct(n, codes, sizes)
    ref_first, ref_inverse, ref_combined = _distinct_by_unique(codes, sizes)
    assert combined == ref_combined
    assert first.tolist() == ref_first.tolist()
    assert inverse.tolist() == ref_inverse.tolist()


def test_a_sum_is_written_as_danish_int():
    from transforms.formats import danish_int

    for value in (0.0, -0.0, 1.0, 999.0, 1000.0, 1234567.0, -4321.0, 2.5, 3.5, 1e15):
        assert sum_text(value) == danish_int(value)
        assert sum_text(value) == danish_int(value)  # and once more, remembered
    assert sum_text(float("nan")) == ""


def _statistik(omraade: str) -> bytes:
    return json.dumps({"område": omraade, "emne": "AFSL", "underemne": "AFSLAARS",
                       "nøgletal": ["Antal afslag"], "detaljering": ["[Tid].[År]"]}).encode()


def test_an_unpaired_surrogate_is_the_clients_error_not_ours(client):
    """Issue 19: "\\ud800" in område used to fail inside the error path (400 "intern fejl")."""
    r = client.post("/Api/v1/statistik", _statistik("\ud800"))
    assert r.status_code == 400
    data = check(r)
    assert "område" in data["fejl"].lower() or "omr" in data["fejl"].lower()


def test_our_own_fault_is_a_500_with_a_reference_in_the_body_and_the_log(tmp_path, caplog,
                                                                         monkeypatch):
    """Issue 19: an internal error is answered 500 (monitoring sees it), with a reference that
    the log repeats beside the traceback; a client's error stays 4xx."""
    from serving import releases

    home = write_release_home(tmp_path / "home")
    original = releases.Release.resolve

    def resolve(self, omraade, *args):
        if omraade == "EUD":
            raise KeyError("a bug of ours")
        return original(self, omraade, *args)

    monkeypatch.setattr(releases.Release, "resolve", resolve)
    cl = Client(create_app(home, [TOKEN]))
    try:
        with caplog.at_level("ERROR"):
            r = cl.post("/Api/v1/statistik", _statistik("EUD"))
        assert r.status_code == 500
        data = r.json()
        assert INTERNAL in data["fejl"] and data["reference"] in data["fejl"]
        assert "Traceback" not in r.text
        logged = [rec for rec in caplog.records if data["reference"] in rec.getMessage()]
        assert logged and logged[0].exc_info is not None
        assert cl.post("/Api/v1/statistik", _statistik("NOPE")).status_code == 400
    finally:
        cl.close()
