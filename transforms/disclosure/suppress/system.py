"""The attacker's linear system for the suppressor (:mod:`transforms.disclosure.suppress`).

Turns a cube's cell frame into *variables* (one per distinct published number) and sparse
*equations* (parent = sum of refining children), following the "linear system" section of
``transforms/disclosure/README.md``:

- flow cubes: one variable per cell;
- stock cubes: cells with the same status date and the same non-time captions are one
  variable (År 2022 = 2022K4 = 2022M12 at 31 December), and time plays no part in the
  relations: every status date is its own system;
- FRAFAFBRUD: a second layer of variables for the outcome count (``antal_afbrudt``) with the
  same equations; ``y <= x`` per cell is kept by the solver modules, not here.

Only groupings present in the frame take part (a frame with some groupings left out gives a
system over those groupings). Variables are numbered in a canonical order (grouping in
catalogue order, status date, captions) that does not depend on the frame's row order, so
everything downstream is deterministic under shuffled input.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from transforms.catalog import ATTRIBUTES, HIERARCHIES, Cube, canonical

OUTCOME_COLUMN = "antal_afbrudt"


@dataclass
class System:
    n: int  # number of cell variables (one layer)
    layers: int  # 1, or 2 where the cube has an outcome count (x then y)
    A: sp.csr_matrix  # equations over all layers*n variables; A @ values == 0
    values: np.ndarray  # int64, true values, layers*n
    n_ind: np.ndarray  # int64, individuals behind each cell variable (n)
    weight: np.ndarray  # float, cost of withholding each variable (layers*n)
    top: np.ndarray  # bool per cell variable: a grand total of its system
    row_var: np.ndarray  # per frame row (frame order): its cell variable
    order: np.ndarray  # canonical rank of each variable (n), for tie-breaking


def _attrs(key: str) -> list[str]:
    return key.split("|") if key else []


def _refines(child: frozenset, parent: frozenset) -> bool:
    """Whether grouping ``child`` is finer than or equal to ``parent``."""
    for a in parent:
        h = ATTRIBUTES[a].hierarchy
        if h:
            levels = HIERARCHIES[h]
            i = levels.index(a)
            if not any(ATTRIBUTES[c].hierarchy == h and levels.index(c) <= i for c in child):
                return False
        elif a not in child:
            return False
    return True


def covering_pairs(groupings: list[frozenset]) -> list[tuple[frozenset, frozenset]]:
    """(parent, child) pairs where child refines parent with no present grouping between.

    The covering relations span every true identity: a longer chain is a sum of them.
    """
    out = []
    for p in groupings:
        for c in groupings:
            if c == p or not _refines(c, p):
                continue
            if any(
                q != p and q != c and _refines(c, q) and _refines(q, p) for q in groupings
            ):
                continue
            out.append((p, c))
    return out


def _gorder(attrs: frozenset, cube: Cube) -> tuple:
    return (len(attrs), sorted(cube.attributes.index(a) for a in attrs))


def build_system(cells: pd.DataFrame, cube: Cube) -> System:
    stock = cube.kind == "stock"
    value_col = cube.value_column
    keys = cells["gruppering"].astype(str).to_numpy()
    known = list(cube.groupings)
    unknown = sorted(set(keys) - set(known))
    if unknown:
        raise ValueError(f"{cube.underemne}: groupings not in the catalogue: {unknown[:3]}")
    frame, id_attrs, id_cols, uniq_g, gidx = _key_frame(cells, cube, keys, known)

    # variables: canonical numbering, independent of row order
    vkeys = ["date", "g"] + id_cols if stock else ["g", "date"] + id_cols
    row_var = frame.groupby(vkeys, sort=True).ngroup().to_numpy().astype(np.int64)
    n = int(row_var.max()) + 1 if len(row_var) else 0
    first = np.full(n, -1, dtype=np.int64)
    # representative row per variable: any row (all rows of a variable share the key)
    first[row_var] = np.arange(len(row_var))
    vt = frame.iloc[first].reset_index(drop=True)
    vt["var"] = np.arange(n)

    vals = cells[value_col].to_numpy().astype(np.int64)
    nind = cells["n_individer"].to_numpy().astype(np.int64)
    _check_same(vals, row_var, n, value_col)
    _check_same(nind, row_var, n, "n_individer")
    x = np.zeros(n, dtype=np.int64)
    x[row_var] = vals
    ni = np.zeros(n, dtype=np.int64)
    ni[row_var] = nind
    mult = np.bincount(row_var, minlength=n).astype(float)
    layers = 1
    y = None
    if any(m.outcome and m.kind == "count" for m in cube.measures):
        layers = 2
        yv = cells[OUTCOME_COLUMN].to_numpy().astype(np.int64)
        _check_same(yv, row_var, n, OUTCOME_COLUMN)
        y = np.zeros(n, dtype=np.int64)
        y[row_var] = yv
        if np.any(y > x) or np.any(y < 0):
            raise ValueError(f"{cube.underemne}: {OUTCOME_COLUMN} outside 0..{value_col}")

    A1 = _relations(vt, id_attrs, id_cols, uniq_g, gidx, n)
    bad = np.flatnonzero(A1 @ x.astype(float) != 0)
    if len(bad):
        raise ValueError(
            f"{cube.underemne}: cells do not add up ({len(bad)} relations, e.g. variables "
            f"{A1[bad[0]].indices.tolist()})"
        )
    if layers == 2:
        A = sp.block_diag([A1, A1], format="csr")
        values = np.concatenate([x, y])
        if np.any(A @ values.astype(float) != 0):
            raise ValueError(f"{cube.underemne}: {OUTCOME_COLUMN} does not add up")
    else:
        A = A1
        values = x

    # a grand total of its system: the coarsest grouping (no attributes besides time)
    top = (vt["g"].to_numpy() == gidx.get(frozenset(), -1)) if frozenset() in gidx else np.zeros(
        n, dtype=bool
    )
    big = 1000.0 * (float(x.max()) + 1.0) if n else 1.0
    wx = (x + 1.0) * mult
    wx[top] = big * mult[top]
    weight = wx
    if layers == 2:
        weight = np.concatenate([wx, (y + 1.0) * mult])
    return System(
        n=n,
        layers=layers,
        A=A,
        values=values,
        n_ind=ni,
        weight=weight,
        top=top,
        row_var=row_var,
        order=np.arange(n),
    )


def _key_frame(cells: pd.DataFrame, cube: Cube, keys: np.ndarray, known: list[str]):
    """Per frame row the key that identifies its variable: status date (stock cubes; else
    ""), system grouping (stock: without time) as an index into the groupings in canonical
    order, and the captions of the identifying columns (aliases carry no own member).
    Returns (key frame, identifying attributes, their columns, groupings, grouping index)."""
    stock = cube.kind == "stock"
    # attribute columns that identify a cell (aliases carry no own member)
    main_attrs = [a for a in cube.attributes if canonical(a) == a]
    tid = {a for a in main_attrs if ATTRIBUTES[a].hierarchy == "Tid"}
    id_attrs = [a for a in main_attrs if not (stock and a in tid)]
    id_cols = [ATTRIBUTES[a].column for a in id_attrs]

    frame = pd.DataFrame(index=np.arange(len(cells)))
    gsets = {k: frozenset(_attrs(k)) for k in known}
    if stock:
        grp = [frozenset(a for a in gsets[k] if a not in tid) for k in keys]
        if "statusdato" not in cells.columns:
            raise ValueError(f"{cube.underemne}: a stock cube's frame needs 'statusdato'")
        dates = pd.Series(cells["statusdato"].to_numpy(), dtype=object)
        frame["date"] = dates.where(dates.notna(), "").astype(str).str[:10].to_numpy()
    else:
        grp = [gsets[k] for k in keys]
        frame["date"] = ""
    uniq_g = sorted(set(grp), key=lambda g: _gorder(g, cube))
    gidx = {g: i for i, g in enumerate(uniq_g)}
    frame["g"] = np.array([gidx[g] for g in grp], dtype=np.int64)
    for c in id_cols:
        col = cells[c] if c in cells.columns else pd.Series([None] * len(cells))
        ser = pd.Series(col.to_numpy(), dtype=object)
        frame[c] = ser.where(ser.notna(), "").astype(str).to_numpy()
    return frame, id_attrs, id_cols, uniq_g, gidx


def _relations(vt: pd.DataFrame, id_attrs: list[str], id_cols: list[str], uniq_g: list,
               gidx: dict, n: int) -> sp.csr_matrix:
    """The equations over one layer (parent - sum of its covering children = 0), per set of
    status dates with the same groupings present: integer codes per identifying column,
    matched by sorted keys."""
    codes = np.zeros((n, len(id_cols) + 1), dtype=np.int64)
    codes[:, 0] = pd.factorize(vt["date"], sort=True)[0]
    for i, c in enumerate(id_cols):
        codes[:, i + 1] = pd.factorize(vt[c], sort=True)[0]
    dims = codes.max(axis=0) + 1 if n else np.ones(codes.shape[1], dtype=np.int64)
    vg = vt["g"].to_numpy()
    rows_i: list[np.ndarray] = []
    cols_i: list[np.ndarray] = []
    vals_i: list[np.ndarray] = []
    neq = 0
    gpos = {g: [0] + [1 + id_attrs.index(a) for a in id_attrs if a in g] for g in uniq_g}
    date_of = codes[:, 0]
    sets: dict[tuple, list[int]] = {}
    for d in np.unique(date_of):
        sets.setdefault(tuple(np.unique(vg[date_of == d]).tolist()), []).append(int(d))
    for gs, ds in sorted(sets.items()):
        in_d = np.isin(date_of, ds)
        present = [uniq_g[i] for i in gs]
        for p, c in covering_pairs(present):
            pos = gpos[p]
            pv = np.flatnonzero(in_d & (vg == gidx[p]))
            cv = np.flatnonzero(in_d & (vg == gidx[c]))
            if not len(pv) or not len(cv):
                continue
            pk = np.ravel_multi_index(codes[pv][:, pos].T, dims[pos])
            ck = np.ravel_multi_index(codes[cv][:, pos].T, dims[pos])
            o = np.argsort(pk, kind="stable")
            j = np.searchsorted(pk[o], ck)
            j = np.minimum(j, len(pk) - 1)
            hit = pk[o][j] == ck
            if not hit.any():
                continue
            par = pv[o][j[hit]]
            chi = cv[hit]
            srt = np.lexsort((chi, par))
            par, chi = par[srt], chi[srt]
            pvars, eq = np.unique(par, return_inverse=True)
            rows_i += [np.arange(len(pvars)) + neq, eq + neq]
            cols_i += [pvars, chi]
            vals_i += [np.ones(len(pvars)), -np.ones(len(chi))]
            neq += len(pvars)
    if rows_i:
        r = np.concatenate(rows_i)
        c = np.concatenate(cols_i)
        v = np.concatenate(vals_i)
    else:
        r = c = np.zeros(0, dtype=np.int64)
        v = np.zeros(0)
    A1 = sp.csr_matrix((v, (r, c)), shape=(neq, n))
    A1.sum_duplicates()
    return A1


def _check_same(vals: np.ndarray, row_var: np.ndarray, n: int, name: str) -> None:
    lo = np.full(n, np.iinfo(np.int64).max)
    hi = np.full(n, np.iinfo(np.int64).min)
    np.minimum.at(lo, row_var, vals)
    np.maximum.at(hi, row_var, vals)
    if np.any(lo != hi):
        raise ValueError(f"cells of the same status date and captions differ in {name}")
