"""Information loss of a suppression pattern: what the protection costs the statistics.

Computed from the true cells. A cell is *primary* when it is based on 1..MAX_SMALL
individuals, *empty* when its value is 0, and *secondary* when it is withheld although it
is neither (its value is the information lost).

The exact figures (:func:`information_loss`, per cube and per view) stay in the warehouse
(table ``informationstab``, for the bench and the operators): they are statements about
withheld cells' true values that the audit does not check. The value withheld as
secondary, with the published cells, gives the summed value of the primary cells of a view
(exactly, where a view has one); the largest secondary cell is one withheld cell's value;
the count of non-empty or primary cells tells how many withheld cells are empty or small.
What is published (``audit.json``'s ``informationstab``, the rapport, ``lpstat
releases``) is :func:`public_information_loss`: per cube the number of cells and of
withheld cells, both readable from the published cells.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from transforms.catalog import MAX_SMALL, Cube


def _stats(value: np.ndarray, n: np.ndarray, withheld: np.ndarray) -> dict:
    nonempty = value > 0
    primary = nonempty & (n >= 1) & (n <= MAX_SMALL)
    secondary = withheld & nonempty & ~primary
    total = int(value[nonempty].sum())
    sec_value = int(value[secondary].sum())
    return {
        "celler": int(len(value)),
        "diskretionerede": int(withheld.sum()),
        "ikke_tomme": int(nonempty.sum()),
        "primaere": int(primary.sum()),
        "sekundaere": int(secondary.sum()),
        "sekundaer_vaerdi": sec_value,
        "sekundaer_andel": round(sec_value / total, 6) if total else 0.0,
        "stoerste_sekundaere": int(value[secondary].max()) if secondary.any() else 0,
        "sekundaere_100": int((secondary & (value >= 100)).sum()),
        "sekundaere_1000": int((secondary & (value >= 1000)).sum()),
    }


def information_loss(cells: pd.DataFrame, withheld: np.ndarray, cube: Cube) -> dict:
    """Per cube and per view: cells, non-empty, primary and secondary cells, the value
    withheld as secondary and its share of the non-empty value, the largest secondary cell
    and how many secondary cells reach 100 and 1,000. ``withheld``: per row, the count
    withheld."""
    value = cells[cube.value_column].to_numpy(dtype=np.int64) if len(cells) else np.zeros(0, np.int64)
    n = cells["n_individer"].to_numpy(dtype=np.int64) if len(cells) else np.zeros(0, np.int64)
    withheld = np.asarray(withheld, dtype=bool)
    out = {"terning": _stats(value, n, withheld), "visninger": {}}
    g = cells["gruppering"].to_numpy(dtype=object) if len(cells) else np.zeros(0, object)
    for view in cube.views:
        keys = [k for k, views in cube.groupings.items() if view.id in views]
        sel = np.isin(g, keys)
        out["visninger"][view.id] = {"navn": view.name, **_stats(value[sel], n[sel], withheld[sel])}
    return out


def public_information_loss(loss: dict) -> dict:
    """What of :func:`information_loss` a release publishes: per cube (no views) the number
    of cells and of withheld cells, both readable from the published cells anyway. Nothing
    derived from withheld cells' true values: even a coarse band of the secondary share can
    pin a cell (two withheld cells adding up to 12 and "secondary cells add up to less than
    10" leave one of them at 0..3)."""
    t = loss["terning"]
    return {"terning": {"celler": t["celler"], "diskretionerede": t["diskretionerede"]}}
