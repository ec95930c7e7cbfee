"""Patterns as frames: the suppression pattern of a cell frame (``undertrykt``,
``undertrykt_udfald``, ``aarsag``) and the published frame it gives (:func:`apply_pattern`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from transforms.catalog import Cube
from transforms.disclosure.suppress.system import System


def _empty_pattern(cells: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"undertrykt": pd.Series(dtype=bool),
                         "undertrykt_udfald": pd.Series(dtype=bool),
                         "aarsag": pd.Series(dtype=object)}, index=cells.index)


def _as_frame(cells: pd.DataFrame, s: System, wh: np.ndarray, prim: np.ndarray,
              prim_out: np.ndarray) -> pd.DataFrame:
    n = s.n
    rv = s.row_var
    x = s.values[:n]
    und = wh[:n][rv]
    und_o = wh[n:][rv] if s.layers == 2 else und.copy()
    aarsag = np.full(len(cells), None, dtype=object)
    zero = (x == 0)[rv]
    aarsag[und] = "sekundær"
    aarsag[und & prim[rv]] = "primær"
    aarsag[und & zero] = "tom"
    if s.layers == 2:
        only_o = und_o & ~und
        aarsag[only_o] = "sekundær_udfald"
        aarsag[only_o & prim_out[rv]] = "primær_udfald"
    return pd.DataFrame(
        {"undertrykt": und.astype(bool), "undertrykt_udfald": und_o.astype(bool), "aarsag": aarsag},
        index=cells.index,
    )


def apply_pattern(cells: pd.DataFrame, pattern: pd.DataFrame, cube: Cube) -> pd.DataFrame:
    """The published frame: count measures nulled where withheld (nullable Int64) and a
    ``status`` column ('diskretioneret' where any measure is withheld, else 'publiceret').

    Shares are computed elsewhere; only count columns present in ``cells`` are touched.
    """
    out = cells.copy()
    und = pattern["undertrykt"].reindex(cells.index).fillna(True).astype(bool).to_numpy()
    und_o = pattern["undertrykt_udfald"].reindex(cells.index).fillna(True).astype(bool).to_numpy()
    for m in cube.measures:
        if m.kind != "count" or m.column not in out.columns:
            continue
        hide = und_o if m.outcome else und
        col = out[m.column].astype("Int64")
        col[hide] = pd.NA
        out[m.column] = col
    out["status"] = np.where(und | und_o, "diskretioneret", "publiceret")
    return out
