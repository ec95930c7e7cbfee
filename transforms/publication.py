"""Turn a cube's true cells and a suppression pattern into the published cells.

Counts are nulled where the pattern withholds them (the outcome measures of FRAFAFBRUD by
their own flag); a share is published only when its count and its denominator are both
published, because a share next to a withheld denominator would give the denominator away
(count / share). Empty combinations are withheld like small cells (zeros stay ambiguous).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from transforms.catalog import ATTRIBUTES, Cube, canonical


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


def share_denominators(cells: pd.DataFrame, cube: Cube) -> pd.Series | None:
    """Row position of each cell's share denominator (same cell for within-cell shares).

    The denominator of a cell is the cell of its grouping without the share's dropped
    attributes that has the same values of the other attributes (and status date); -1 when
    there is none, the last one when there are several. Values are matched column by column
    as integer codes (missing matches missing), so a national cube takes milliseconds.
    """
    share = next((m for m in cube.measures if m.kind == "share"), None)
    if share is None:
        return None
    if share.denominator_column:
        return pd.Series(range(len(cells)), index=cells.index, dtype="int64")
    drop = {canonical(a) for a in share.denominator_drops}
    drop_cols = {ATTRIBUTES[a].column for a in drop}
    keep_cols = [c for c in cube.columns if c not in drop_cols]
    key_cols = (["statusdato"] if cube.kind == "stock" else []) + keep_cols
    n = len(cells)
    if n == 0:
        # int64 also when the cube is empty (stock cubes before 2022): the positions index arrays.
        return pd.Series([], index=cells.index, dtype="int64")
    # the cell's values of the kept columns, as one code per row
    rest = np.zeros(n, dtype="int64")
    for c in key_cols:
        codes, uniques = pd.factorize(cells[c])  # missing: -1
        rest = pd.factorize(rest * (len(uniques) + 1) + (codes + 1))[0]
    n_rest = int(rest.max()) + 1
    # each row's grouping, and the grouping its denominator is in (worked out per grouping)
    g_codes, groupings = pd.factorize(cells["gruppering"], use_na_sentinel=False)
    position = {g: k for k, g in enumerate(groupings)}
    target = np.array(
        [position.get("|".join(a for a in (g.split("|") if g else []) if a not in drop), -1)
         for g in groupings], dtype="int64")[g_codes]
    own = g_codes * n_rest + rest
    wanted = np.where(target >= 0, target * n_rest + rest, -1)
    # the last row of each key, as a dict filled in row order keeps it
    keys, from_end = np.unique(own[::-1], return_index=True)
    last = n - 1 - from_end
    at = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
    return pd.Series(np.where(keys[at] == wanted, last[at], -1), index=cells.index,
                     dtype="int64")
