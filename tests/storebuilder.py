"""Hand-built operational stores for tests: a few rows whose right answers a test can work
out by itself. Writes SQLite exactly as the contract (demo.generate.store_schema_sql)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from demo.generate import REASONS, store_schema_sql

REASON_TEXT = {code: text for code, text, _, _ in REASONS}
EDUCATIONS = [("SSH", "Social- og sundhedshjælper"), ("SSA", "Social- og sundhedsassistent")]
EDU_TEXT = dict(EDUCATIONS)


class TinyStore:
    def __init__(self) -> None:
        self.rows: dict[str, list[tuple]] = {
            "uddannelse": list(EDUCATIONS),
            "afslagsbegrundelse": list(REASONS),
            "skole": [("751420", "SOSU Østjylland", "0751"), ("101010", "SOSU H", "0101")],
            "virksomhed": [],
            "elev": [],
            "uddannelsesaftale": [],
            "frafaldsvurdering": [],
            "afslag": [],
        }

    def virksomhed(self, vid: int, sektor: str, kommunekode: str) -> "TinyStore":
        self.rows["virksomhed"].append((vid, f"{vid:08d}", None, f"Arbejdsplads {vid}", sektor,
                                        kommunekode))
        return self

    def afslag(self, aid: int, vid: int, udd: str, ansoeger: str, prim: str, sek: str | None,
               registreret: str, af: str = "Mette Medarbejder") -> "TinyStore":
        self.rows["afslag"].append((aid, vid, udd, ansoeger, prim, sek, registreret, af))
        return self

    def elev(self, eid: int, cpr: str, fornavn: str = "Sofie", efternavn: str = "Jensen",
             adresse: str | None = "Testvej 1, 8000 Aarhus C", mobil: str | None = "20304050"):
        self.rows["elev"].append((eid, cpr, fornavn, efternavn, adresse, mobil))
        return self

    def aftale(self, aftale_id: int, eid: int, vid: int, skole: str, udd: str, start: str,
               slut: str, ophoert: str | None = None, aarsag: str | None = None,
               oprettet: str = "2021-01-01T10:00:00+01:00", aendret: str | None = None):
        self.rows["uddannelsesaftale"].append((aftale_id, eid, vid, skole, udd, start, slut,
                                               ophoert, aarsag, oprettet, aendret or oprettet))
        return self

    def vurdering(self, vid: int, aftale_id: int, risiko: str, registreret: str,
                  medarbejder: str = "Lars Leder"):
        self.rows["frafaldsvurdering"].append((vid, aftale_id, risiko, registreret, medarbejder))
        return self

    def write(self, path: Path) -> str:
        path = Path(path)
        if path.exists():
            path.unlink()
        con = sqlite3.connect(path)
        con.executescript(store_schema_sql("sqlite"))
        for table, rows in self.rows.items():
            if rows:
                marks = ", ".join("?" * len(rows[0]))
                con.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)
        con.commit()
        con.close()
        return f"sqlite:///{path.resolve()}"


def build_cells(url: str, warehouse: Path, release: str, key: str = "test-key") -> dict:
    """Land, model and compute every cube's cells for one release (no Dagster)."""
    from transforms.catalog import CUBES
    from transforms.cubes import build_cells as cube_cells
    from transforms.cubes import prepare_release
    from transforms.land import land_source
    from transforms.warehouse import build_all, connect

    con = connect(warehouse)
    try:
        land_source(url, key, con, "test")
        build_all(con)
        prepare_release(con, release)
        return {u: cube_cells(con, c, release) for u, c in CUBES.items()}
    finally:
        con.close()
