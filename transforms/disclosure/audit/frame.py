"""The attacker's system, read from a cube's published cell frame.

:class:`_Audit` reads what anyone can download (the published frame, measures null where
withheld) plus the catalogue, numbers the variables canonically (status date, grouping,
captions; never by row order), builds the cover relations between the groupings present
(see the package docstring), checks the frame's consistency (statuses, zeros, counts,
shares), lists the 100 % cells and the targets: the withheld values to decide.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pandas as pd
import scipy.sparse as sp

from transforms import catalog
from transforms.catalog import ATTRIBUTES, HIERARCHIES, Cube
from transforms.disclosure.audit.rule import _EPS, _SHARE_TOL, _num_out

DIFF_SEP = "-"  # measure label of count minus outcome: "antal_elever-antal_afbrudt"


def _iso(v) -> str | None:
    if v is None:
        return None
    try:
        if pd.isna(v):
            return None
    except (TypeError, ValueError):
        pass
    if isinstance(v, str):
        return v[:10]
    if hasattr(v, "isoformat"):
        return v.isoformat()[:10]
    return str(v)[:10]


def _codes(values: list) -> tuple[np.ndarray, list[str]]:
    """Codes of strings in sorted order of the distinct values; None → -1."""
    uniq = sorted({v for v in values if v is not None})
    index = {v: k for k, v in enumerate(uniq)}
    return np.array([-1 if v is None else index[v] for v in values], dtype=np.int64), uniq


def _num(series: pd.Series) -> np.ndarray:
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _row_ids(mat: np.ndarray) -> np.ndarray:
    """Ids of the rows of an int matrix, numbered in lexicographic order of the rows (what
    ``np.unique(mat, axis=0, return_inverse=True)`` gives, by a lexsort: some 5x faster on
    the audit's key matrices, where the structured sort np.unique uses was 0.35 s of a
    national search)."""
    n = mat.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.lexsort(mat.T[::-1])  # the first column decides first
    srt = mat[order]
    ids = np.empty(n, dtype=np.int64)
    ids[order] = np.cumsum(np.r_[True, (srt[1:] != srt[:-1]).any(axis=1)]) - 1
    return ids


def _lookup(query: np.ndarray, table: np.ndarray) -> np.ndarray:
    """For each row of `query`, the index of the first equal row of `table`, else -1."""
    out = np.full(query.shape[0], -1, dtype=np.int64)
    if query.shape[0] == 0 or table.shape[0] == 0:
        return out
    inv = _row_ids(np.vstack([table, query]))
    first = np.full(int(inv.max()) + 1, -1, dtype=np.int64)
    nt = table.shape[0]
    first[inv[:nt][::-1]] = np.arange(nt)[::-1]
    return first[inv[nt:]]


def _level(attr: str) -> tuple[str, int]:
    """(hierarchy or attribute, level index; 0 = finest)."""
    h = ATTRIBUTES[attr].hierarchy
    if h:
        return h, HIERARCHIES[h].index(attr)
    return attr, 0


def _refines(c: tuple[str, ...], p: tuple[str, ...]) -> bool:
    """Whether grouping c is at least as fine as p."""
    cl = dict(_level(x) for x in c)
    for x in p:
        h, lev = _level(x)
        if h not in cl or cl[h] > lev:
            return False
    return True


def _covers(groupings: list[tuple[str, ...]]) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    """(P, C) pairs: C strictly refines P and no grouping present lies strictly between."""
    out = []
    for p in groupings:
        finer = [c for c in groupings if c != p and _refines(c, p)]
        for c in finer:
            if not any(d != c and _refines(c, d) for d in finer):
                out.append((p, c))
    return out


def _carried_columns(attrs: tuple[str, ...], cube: Cube) -> list[str]:
    carried = set(catalog.carried_attributes("|".join(attrs)))
    return [ATTRIBUTES[x].column for x in cube.attributes if x in carried]


# --- reading the published frame, variables and relations ---------------------------------


class Structure:
    """The part of an audit's system that depends only on which cells a frame has (its
    groupings, status dates and captions), not on the numbers it publishes: the variables,
    their numbering and the relation matrix. The checked search audits one frame's cells
    round after round with more withheld, so it is built once (:func:`cell_columns` says what
    must be the same) and reused; see ``cube.audit``."""

    def __init__(self, attrs: dict, A, cell_errors: list, relation_errors: list):
        self.attrs, self.A = attrs, A
        self.cell_errors, self.relation_errors = cell_errors, relation_errors


def cell_columns(frame: pd.DataFrame, cube: Cube) -> list[str]:
    """The columns that name a frame's cells: what the structure is read from."""
    return [c for c in ["gruppering", "statusdato", *cube.columns] if c in frame.columns]



class _Audit:
    def __init__(self, published: pd.DataFrame, cube: Cube, outcome_of_withheld: bool):
        self.cube = cube
        self.df = published.reset_index(drop=True)
        self.n = len(self.df)
        self.outcome_of_withheld = outcome_of_withheld
        self.stock = cube.kind == "stock"
        self.value_col = cube.value_column
        self.outcome_cols = [
            m.column for m in cube.measures
            if m.kind == "count" and m.additive and m.outcome and m.column != cube.value_column
        ]
        self.measures = [self.value_col] + self.outcome_cols
        self.errors: list[dict] = []

    # -- errors and cell descriptions ----------------------------------------------------

    def members(self, i: int) -> dict:
        out = {}
        for c in self.cube.columns:
            k = self.codes[c][i]
            if k >= 0:
                out[c] = self.uniques[c][k]
        return out

    def cell(self, i: int) -> dict:
        return {"gruppering": self.grp[i], "statusdato": self.sdate[i], "members": self.members(i)}

    def error(self, kind: str, i: int | None = None, **extra) -> None:
        e = {"type": kind}
        if i is not None:
            e.update(self.cell(i))
        e.update(extra)
        self.errors.append(e)

    # -- reading -------------------------------------------------------------------------

    def _strings(self, col) -> list:
        df, n = self.df, self.n
        if col not in df.columns:
            return [None] * n
        vals = df[col].to_numpy(dtype=object)
        miss = pd.isna(vals)
        return [None if m else (v if type(v) is str else str(v)) for v, m in zip(vals, miss)]

    def read_cells(self) -> None:
        """What names the cells: groupings, status dates, captions (part of the structure)."""
        df, cube = self.df, self.cube
        strings = self._strings
        self.grp = [v or "" for v in strings("gruppering")]
        if self.stock and "statusdato" in df.columns:
            cache: dict = {}
            out = []
            for v in df["statusdato"].to_numpy(dtype=object):
                key = v if isinstance(v, str) or v is None else repr(v)
                if key not in cache:
                    cache[key] = _iso(v)
                out.append(cache[key])
            self.sdate = out
        else:
            self.sdate = [None] * self.n
        # captions as codes over the sorted distinct captions (canonical, row-order free)
        self.codes: dict[str, np.ndarray] = {}
        self.uniques: dict[str, list[str]] = {}
        for c in cube.columns:
            self.codes[c], self.uniques[c] = _codes(strings(c))
        self.sys, _ = _codes(self.sdate)  # -1: none (flow cubes)

    def read_values(self) -> None:
        """The published numbers and statuses."""
        df, cube, n = self.df, self.cube, self.n
        self.values: dict[str, np.ndarray] = {}
        for m in cube.measures:
            if m.column in df.columns:
                self.values[m.column] = _num(df[m.column])
        for c in self.measures:
            self.values.setdefault(c, np.full(n, np.nan))
        self.present = [m for m in cube.measures if m.column in df.columns]
        self.status = self._strings("status") if "status" in df.columns else None

    def parse_groupings(self) -> None:
        """Per distinct grouping key: attributes, system grouping, columns; per row its id."""
        cube = self.cube
        known = set(cube.groupings)
        self.gid, self.g_key = _codes(self.grp)
        self.g_attrs: list[tuple[str, ...] | None] = []
        for gi, key in enumerate(self.g_key):
            attrs = tuple(key.split("|")) if key else ()
            ok = all(x in cube.attributes and ATTRIBUTES[x].alias_of is None for x in attrs)
            ok = ok and catalog.grouping_key(attrs, cube) == key
            if ok and self.stock and not any(ATTRIBUTES[x].hierarchy == "Tid" for x in attrs):
                ok = False
            self.g_attrs.append(attrs if ok else None)
            if key not in known:
                self.error("unknown_grouping", int(np.flatnonzero(self.gid == gi)[0]))
        # system grouping (stock: without time) and its columns
        self.eg_of_g: list[tuple[str, ...] | None] = []
        for attrs in self.g_attrs:
            if attrs is None:
                self.eg_of_g.append(None)
            else:
                self.eg_of_g.append(tuple(
                    x for x in attrs if not (self.stock and ATTRIBUTES[x].hierarchy == "Tid")
                ))
        egs = sorted({e for e in self.eg_of_g if e is not None},
                     key=lambda e: catalog._gsort("|".join(e), cube))
        self.egs = egs
        self.eg_id = {e: k for k, e in enumerate(egs)}
        self.eg_cols = [_carried_columns(e, cube) for e in egs]

    def build_variables(self) -> None:
        n, cube = self.n, self.cube
        valid = np.ones(n, dtype=bool)
        row_eg = np.full(n, -1, dtype=np.int64)
        for gi, attrs in enumerate(self.g_attrs):
            rows = self.gid == gi
            if attrs is None:
                valid &= ~rows
                continue
            row_eg[rows] = self.eg_id[self.eg_of_g[gi]]
            full = _carried_columns(attrs, cube)
            miss = rows & np.logical_or.reduce([self.codes[c] < 0 for c in full] or [np.zeros(n, bool)])
            for i in np.flatnonzero(miss):
                self.error("missing_caption", int(i))
            valid &= ~miss
        if self.stock:
            nosys = valid & (self.sys < 0)
            for i in np.flatnonzero(nosys):
                self.error("missing_statusdato", int(i))
            valid &= ~nosys
        # key matrix: system, grouping, captions on the grouping's columns (else -1)
        self.col_pos = {c: 2 + k for k, c in enumerate(cube.columns)}
        key = np.full((n, 2 + len(cube.columns)), -1, dtype=np.int64)
        key[:, 0] = self.sys
        key[:, 1] = row_eg
        for k, cols in enumerate(self.eg_cols):
            rows = row_eg == k
            for c in cols:
                key[rows, self.col_pos[c]] = self.codes[c][rows]
        rows_idx = np.flatnonzero(valid)
        var = _row_ids(key[rows_idx])  # lexicographic: canonical numbering
        self.row_var = np.full(n, -1, dtype=np.int64)
        self.row_var[rows_idx] = var
        self.n_var = int(var.max()) + 1 if len(var) else 0
        first = np.full(self.n_var, n, dtype=np.int64)
        np.minimum.at(first, var, rows_idx)
        self.var_first_row = first
        self.var_key = key[first] if self.n_var else key[:0]
        self.var_sys = self.var_key[:, 0]
        self.var_eg = self.var_key[:, 1]
        # duplicates: the same variable twice in one grouping
        vg = np.stack([var, self.gid[rows_idx]], axis=1)
        if len(vg):
            _, idx, counts = np.unique(vg, axis=0, return_index=True, return_counts=True)
            for k in np.flatnonzero(counts > 1):
                same = rows_idx[(vg[:, 0] == vg[idx[k], 0]) & (vg[:, 1] == vg[idx[k], 1])]
                self.error("duplicate_cell", int(same[1]))
        self._rows_idx, self._var = rows_idx, var

    def read_known(self) -> None:
        """The published value per variable and measure (rows of one variable must agree)."""
        rows_idx, var = self._rows_idx, self._var
        nm = len(self.measures)
        self.known = np.full(nm * self.n_var, np.nan)
        for mi, col in enumerate(self.measures):
            vals = self.values[col][rows_idx]
            pub = ~np.isnan(vals)
            lo = np.full(self.n_var, np.nan)
            hi = np.full(self.n_var, np.nan)
            np.fmin.at(lo, var[pub], vals[pub])
            np.fmax.at(hi, var[pub], vals[pub])
            for v in np.flatnonzero(lo != hi):
                if np.isnan(lo[v]):
                    continue
                rs = [int(r) for r in rows_idx[(var == v) & pub]]
                self.error("unequal_values", rs[0], measure=col,
                           values=sorted({_num_out(self.values[col][r]) for r in rs}),
                           rows=[self.cell(r) for r in rs])
            self.known[mi * self.n_var:(mi + 1) * self.n_var] = lo

    def gkey_of_var(self, eg: int, like_var: int) -> str:
        """Grouping key of system grouping eg (stock: with the time level of like_var)."""
        e = self.egs[int(eg)]
        if not self.stock:
            return "|".join(e)
        attrs = self.g_attrs[self.gid[self.var_first_row[like_var]]] or ()
        tid = [x for x in attrs if ATTRIBUTES[x].hierarchy == "Tid"]
        return catalog.grouping_key(tuple(tid) + e, self.cube)

    def build_relations(self):
        """Sparse relation matrix (rows: P - sum C = 0 per cover pair and P-cell)."""
        vk = self.var_key
        var_ids = np.arange(self.n_var)
        by_eg = {int(k): var_ids[self.var_eg == k] for k in np.unique(self.var_eg)}
        present: dict[int, set] = defaultdict(set)
        for s_, e in zip(self.var_sys.tolist(), self.var_eg.tolist()):
            present[s_].add(e)
        sigs: dict[frozenset, list[int]] = defaultdict(list)
        for s_, egs in present.items():
            sigs[frozenset(egs)].append(s_)
        rr, cc, vv = [], [], []
        meta_parent, meta_child = [], []
        n_rel = 0
        for sig in sorted(sigs, key=lambda x: sorted(x)):
            systems = np.array(sorted(sigs[sig]), dtype=np.int64)
            single = len(sigs) == 1
            for p, c in _covers([self.egs[k] for k in sorted(sig)]):
                pk, ck = self.eg_id[p], self.eg_id[c]
                P, C = by_eg[pk], by_eg[ck]
                if not single:
                    P = P[np.isin(self.var_sys[P], systems)]
                    C = C[np.isin(self.var_sys[C], systems)]
                kpos = [0] + [self.col_pos[col] for col in self.eg_cols[pk]]
                parent = _lookup(vk[C][:, kpos], vk[P][:, kpos])  # index into P, or -1
                orphan = parent < 0
                for v in C[orphan][:1000]:
                    self.error("missing_margin_cell", int(self.var_first_row[v]),
                               margin_gruppering=self.gkey_of_var(pk, int(v)))
                prow = np.arange(n_rel, n_rel + len(P))
                rr += [prow, prow[parent[~orphan]]]
                cc += [P, C[~orphan]]
                vv += [np.ones(len(P)), -np.ones(int((~orphan).sum()))]
                meta_parent.append(P)
                meta_child.append(np.full(len(P), ck))
                n_rel += len(P)
        nm, nv = len(self.measures), self.n_var
        if n_rel:
            r = np.concatenate(rr)
            c = np.concatenate(cc)
            v = np.concatenate(vv)
            self.rel_parent = np.concatenate(meta_parent)
            self.rel_child = np.concatenate(meta_child)
        else:
            r = c = np.zeros(0, dtype=np.int64)
            v = np.zeros(0)
            self.rel_parent = self.rel_child = np.zeros(0, dtype=np.int64)
        self.n_rel = n_rel
        R = np.concatenate([r + k * n_rel for k in range(nm)])
        Cc = np.concatenate([c + k * nv for k in range(nm)])
        V = np.tile(v, nm)
        return sp.csr_matrix((V, (R, Cc)), shape=(nm * n_rel, nm * nv))

    # -- the structure: everything above but the numbers ------------------------------------

    #: what read_cells, parse_groupings, build_variables and build_relations set: a function
    #: of the cells (groupings, status dates, captions), not of the published numbers
    STRUCTURE = ("grp", "sdate", "codes", "uniques", "sys", "gid", "g_key", "g_attrs",
                 "eg_of_g", "egs", "eg_id", "eg_cols", "col_pos", "row_var", "n_var",
                 "var_first_row", "var_key", "var_sys", "var_eg", "_rows_idx", "_var",
                 "rel_parent", "rel_child", "n_rel")

    def build_structure(self) -> "Structure":
        """The structure of this frame's cells, with the errors found building it (kept apart:
        the relations' come after the checks on the numbers, as they always did)."""
        self.read_cells()
        self.parse_groupings()
        self.build_variables()
        n_cells = len(self.errors)
        A = self.build_relations()
        return Structure({k: getattr(self, k) for k in self.STRUCTURE}, A,
                         self.errors[:n_cells], self.errors[n_cells:])

    def adopt(self, st: "Structure") -> None:
        """Take a structure built on the same cells (shared, never written to)."""
        for k, v in st.attrs.items():
            setattr(self, k, v)
        self.errors = list(st.cell_errors)

    # -- consistency checks on the published frame -----------------------------------------

    def _row_lookup(self, rows: np.ndarray, attrs: tuple[str, ...]) -> np.ndarray:
        """For each row in rows: the row of grouping `attrs` with the same status date and the
        same captions on that grouping's columns (-1 if none)."""
        key = catalog.grouping_key(attrs, self.cube)
        if key not in self.g_key:
            return np.full(len(rows), -1, dtype=np.int64)
        cols = _carried_columns(attrs, self.cube)
        table = np.flatnonzero(self.gid == self.g_key.index(key))

        def mat(r):
            return np.stack([self.sys[r]] + [self.codes[c][r] for c in cols], axis=1)

        j = _lookup(mat(rows), mat(table))
        return np.where(j >= 0, table[np.maximum(j, 0)], -1)

    def check_frame(self) -> None:
        n = self.n
        value = self.values[self.value_col]
        nulls = np.zeros((n, len(self.present)), dtype=bool)
        for k, m in enumerate(self.present):
            nulls[:, k] = np.isnan(self.values[m.column])
        anynull = nulls.any(axis=1) if len(self.present) else np.zeros(n, bool)
        if self.status is not None:
            for i in range(n):
                want = "diskretioneret" if anynull[i] else "publiceret"
                if self.status[i] != want:
                    self.error("status_mismatch", i, status=self.status[i], expected=want)
        for i in np.flatnonzero(value == 0):
            self.error("published_zero", int(i), measure=self.value_col)
        for m in self.present:
            if m.kind == "count":
                x = self.values[m.column]
                with np.errstate(invalid="ignore"):
                    bad = (x < 0) | (np.abs(x - np.round(x)) > _EPS)
                for i in np.flatnonzero(bad):
                    self.error("invalid_count", int(i), measure=m.column, value=_num_out(x[i]))
        shown = (~nulls).any(axis=1) if len(self.present) else np.zeros(n, bool)
        for i in np.flatnonzero(np.isnan(value) & shown):
            self.error("measure_without_value", int(i),
                       measures=[m.column for k, m in enumerate(self.present) if not nulls[i, k]])
        for oc in self.outcome_cols:
            o = self.values[oc]
            for i in np.flatnonzero(o > value):
                self.error("outcome_exceeds_count", int(i), measure=oc, value=_num_out(o[i]),
                           count=_num_out(value[i]))
        for m in self.present:
            if m.kind != "share":
                continue
            s = self.values[m.column]
            num = self.values.get(m.numerator, np.full(n, np.nan))
            pub = np.flatnonzero(~np.isnan(s))
            for i in pub[np.isnan(num[pub])]:
                self.error("share_without_count", int(i), measure=m.column, count=m.numerator)
            pub = pub[~np.isnan(num[pub])]
            den = np.full(len(pub), np.nan)
            desc = {}
            if m.denominator_column:
                den = self.values.get(m.denominator_column, np.full(n, np.nan))[pub]
                desc = {"denominator": m.denominator_column}
            else:
                drops = {catalog.canonical(x) for x in m.denominator_drops}
                for gi, attrs in enumerate(self.g_attrs):
                    sel = self.gid[pub] == gi
                    if attrs is None or not sel.any():
                        continue
                    dattrs = tuple(x for x in attrs if x not in drops)
                    rows = pub[sel]
                    j = self._row_lookup(rows, dattrs)
                    dkey = catalog.grouping_key(dattrs, self.cube)
                    for i in rows[j < 0]:
                        self.error("share_denominator_missing", int(i), measure=m.column,
                                   denominator_gruppering=dkey)
                    d = np.full(len(rows), np.nan)
                    d[j >= 0] = self.values[m.numerator][j[j >= 0]]
                    d[j < 0] = -1.0  # reported above
                    den[sel] = d
                    desc[gi] = dkey
            for k, i in enumerate(pub):
                d = den[k]
                if d == -1.0 and not m.denominator_column:
                    continue
                label = desc.get("denominator", desc.get(self.gid[i]))
                if np.isnan(d):
                    self.error("share_without_denominator", int(i), measure=m.column,
                               denominator=label)
                elif d <= 0 or abs(s[i] - num[i] / d) > _SHARE_TOL:
                    self.error("share_value", int(i), measure=m.column, value=float(s[i]),
                               expected=(float(num[i] / d) if d > 0 else None))

    # -- the 100 % report ------------------------------------------------------------------

    def hundred_percent(self) -> list[dict]:
        out: list[tuple[int, int, dict]] = []
        value = self.values[self.value_col]
        risk = "[Frafaldsrisiko].[Frafaldsrisiko]"
        if risk in self.cube.attributes:
            for gi, attrs in enumerate(self.g_attrs):
                if attrs is None or risk not in attrs:
                    continue
                rows = np.flatnonzero((self.gid == gi) & (value >= 1))
                if not len(rows):
                    continue
                margin = tuple(x for x in attrs if x != risk)
                mkey = catalog.grouping_key(margin, self.cube)
                j = self._row_lookup(rows, margin)
                for i, jj in zip(rows, j):
                    if jj >= 0 and value[jj] == value[i]:
                        out.append((int(i), 0, {
                            "type": "frafaldsrisiko_hele_margen", **self.cell(int(i)),
                            "measure": self.value_col, "value": _num_out(value[i]),
                            "margin_gruppering": mkey, "margin": _num_out(value[jj])}))
        for oc in self.outcome_cols:
            o = self.values[oc]
            for i in np.flatnonzero((value >= 1) & ~np.isnan(o) & ((o == value) | (o == 0))):
                kind = "alle_afbrudt" if o[i] == value[i] else "ingen_afbrudt"
                out.append((int(i), 1, {
                    "type": kind, **self.cell(int(i)), "measure": oc, "value": _num_out(o[i]),
                    self.value_col: _num_out(value[i])}))
        out.sort(key=lambda t: (t[0], t[1]))
        return [d for _, _, d in out]

    # -- targets -------------------------------------------------------------------------

    def targets(self) -> list[tuple[int, str, tuple]]:
        """(row, measure label, objective) per withheld value, in frame order. An objective is
        a tuple of (coefficient, variable index) over the measure blocks."""
        out = []
        value = self.values[self.value_col]
        nv = self.n_var
        for i in range(self.n):
            v = int(self.row_var[i])
            if v < 0:
                continue
            if np.isnan(value[i]):
                out.append((i, self.value_col, ((1.0, v),)))
                if not self.outcome_of_withheld:
                    continue
            for k, oc in enumerate(self.outcome_cols, start=1):
                if not np.isnan(self.values[oc][i]):
                    continue
                o = k * nv + v
                out.append((i, oc, ((1.0, o),)))
                out.append((i, f"{self.value_col}{DIFF_SEP}{oc}", ((1.0, v), (-1.0, o))))
        return out
