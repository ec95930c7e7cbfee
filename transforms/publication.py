"""Turn a cube's true cells and a suppression pattern into the published cells.

Counts are nulled where the pattern withholds them (the outcome measures of FRAFAFBRUD by
their own flag); a share is published only when its count and its denominator are both
published, because a share next to a withheld denominator would give the denominator away
(count / share). Empty combinations are withheld like small cells (zeros stay ambiguous).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from transforms.catalog import Cube
from transforms.cubes import share_denominators


def published_cells(cells: pd.DataFrame, pattern: pd.DataFrame, cube: Cube) -> pd.DataFrame:
    out = cells.drop(columns=["n_individer"], errors="ignore").copy()
    # Empty combinations are withheld whatever the pattern says: a zero is never published.
    withheld_all = pattern["undertrykt"].to_numpy(bool) | (cells[cube.value_column].to_numpy() == 0)
    withheld_outcome = pattern["undertrykt_udfald"].to_numpy(bool) | withheld_all
    counts = {}
    for m in cube.measures:
        if m.kind != "count":
            continue
        hide = withheld_outcome if m.outcome else withheld_all
        true = cells[m.column].to_numpy("int64")
        counts[m.column] = (true, hide)
        out[m.column] = pd.array(np.where(hide, 0, true), dtype="Int64")
        out.loc[hide, m.column] = pd.NA
    denom_pos = share_denominators(cells, cube)
    for m in cube.measures:
        if m.kind != "share":
            continue
        num, num_hide = counts[m.numerator]
        if m.denominator_column:
            den, den_hide = counts[m.denominator_column]
        else:
            base, base_hide = counts[m.numerator]
            pos = denom_pos.to_numpy()
            missing = pos < 0
            pos = np.where(missing, 0, pos)
            den, den_hide = base[pos], base_hide[pos] | missing
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)
        hide = num_hide | den_hide | np.isnan(share)
        out[m.column] = pd.array(np.where(hide, np.nan, share), dtype="Float64")
        out.loc[hide, m.column] = pd.NA
    measure_cols = [m.column for m in cube.measures]
    any_hidden = out[measure_cols].isna().any(axis=1)
    out["status"] = np.where(any_hidden, "diskretioneret", "publiceret")
    return out
