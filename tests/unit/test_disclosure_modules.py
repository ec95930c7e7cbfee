"""The suppressor and the audit share no code (DESIGN.md section 2, and
transforms/disclosure/README.md): the modules of one side import nothing of the other's, and
both read only the catalogue and the calendar (declarations: what the cubes are, what a
release month is), so a mistake in one cannot hide the same mistake in the other.
``guarded.py`` wires the two together and is neither side."""

import ast
from pathlib import Path

DISCLOSURE = Path(__file__).resolve().parents[2] / "transforms" / "disclosure"
SUPPRESSOR = sorted((DISCLOSURE / "suppress").glob("*.py"))
SERIES = [DISCLOSURE / "audit_series.py", DISCLOSURE / "audit_chain.py"]
AUDIT = sorted((DISCLOSURE / "audit").glob("*.py")) + SERIES


#: what both sides may read: declarations, no disclosure logic
SHARED = {"transforms.catalog", "transforms.calendar"}


def _transforms_imports(path: Path) -> set[str]:
    """Every ``transforms`` module a file imports, at its top or inside a function."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "transforms":  # from transforms import catalog
                out.update(f"transforms.{a.name}" for a in node.names)
            else:
                out.add(node.module)
        elif isinstance(node, ast.ImportFrom):
            raise AssertionError(f"{path.name}: relative import (absolute ones are checked)")
    return {m for m in out if m == "transforms" or m.startswith("transforms.")}


def _outside(paths: list[Path], own: str, also: frozenset = frozenset()) -> dict[str, list[str]]:
    return {p.relative_to(DISCLOSURE).as_posix(): bad for p in paths
            if (bad := sorted(m for m in _transforms_imports(p)
                              if m not in SHARED and m != own and m not in also
                              and not m.startswith(own + ".")))}


def test_the_sides_are_where_the_layout_says():
    assert {p.name for p in SUPPRESSOR} >= {"__init__.py", "system.py", "check.py", "repair.py"}
    assert {p.name for p in AUDIT} >= {"__init__.py", "frame.py", "solve.py", "audit_series.py"}


def test_the_suppressor_imports_only_itself_and_the_catalogue():
    assert _outside(SUPPRESSOR, "transforms.disclosure.suppress") == {}


def test_the_audit_imports_only_itself_and_the_catalogue():
    assert _outside([p for p in AUDIT if p not in SERIES], "transforms.disclosure.audit") == {}
    # the series audit (whole union and by steps) uses the single audit's solver, and
    # nothing of the suppressor
    names = frozenset(f"transforms.disclosure.{p.stem}" for p in SERIES)
    assert _outside(SERIES, "transforms.disclosure.audit", names) == {}
