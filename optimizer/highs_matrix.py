"""A PuLP problem as HiGHS arrays (`HighsMatrix`), and the matrix operations the solve phases use.

Everything here is numbers: columns, CSR rows, bounds. The solve layer builds one `HighsMatrix` per
model (`highs_matrix`, in bulk) and derives from it the relaxations, restrictions and per-block
problems it hands to HiGHS, without going back to PuLP.
"""

from __future__ import annotations

import dataclasses
import math
from array import array
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import pulp


@dataclass
class HighsMatrix:
    """A PuLP problem as HiGHS arrays, built once in bulk (no per-column or per-row API calls)."""

    variables: list[Any]
    cost: Any
    lower: Any
    upper: Any
    integer: Any
    """Indices of the integer columns."""
    row_lower: Any
    row_upper: Any
    starts: Any
    index: Any
    value: Any
    offset: float
    row_names: list[str] = field(default_factory=list)

    @cached_property
    def rows_of(self) -> Any:
        """The row index of every nonzero (CSR `starts` expanded)."""
        import numpy as np

        return np.repeat(np.arange(len(self.row_lower), dtype=np.int32), self.row_ends - self.starts)

    @cached_property
    def row_ends(self) -> Any:
        """One past the last nonzero of each row (int64)."""
        import numpy as np

        if not len(self.starts):
            return np.zeros(0, dtype=np.int64)
        return np.append(self.starts[1:], len(self.index)).astype(np.int64)

    @cached_property
    def by_column(self) -> tuple[Any, Any]:
        """(order, starts): the nonzeros of column j are `order[starts[j]:starts[j + 1]]` (a CSC
        view of the CSR arrays, rows ascending within a column)."""
        import numpy as np

        order = np.argsort(self.index, kind="stable")
        counts = np.bincount(self.index, minlength=len(self.variables))
        return order, np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)

    @cached_property
    def is_int(self) -> Any:
        """Mask of the integer columns."""
        import numpy as np

        mask = np.zeros(len(self.variables), dtype=bool)
        mask[self.integer] = True
        return mask

    @cached_property
    def column_of(self) -> dict[str, int]:
        """Column index by variable name."""
        return {v.name: i for i, v in enumerate(self.variables)}

    @cached_property
    def row_of(self) -> dict[str, int]:
        """Row index by row name."""
        return {n: i for i, n in enumerate(self.row_names)}

    def with_columns(self, **changes: Any) -> HighsMatrix:
        """A copy with column data (`cost`, `lower`, `upper`, `offset`) replaced; the rows and their
        cached views are shared."""
        new = dataclasses.replace(self, **changes)
        for key in ("rows_of", "row_ends", "by_column", "is_int", "column_of", "row_of"):
            if key in self.__dict__ and not ("integer" in changes and key == "is_int"):
                new.__dict__[key] = self.__dict__[key]
        return new

    def activity(self, x: Any) -> Any:
        """Each row's activity A x."""
        import numpy as np

        return np.bincount(self.rows_of, weights=self.value * x[self.index], minlength=len(self.row_lower))

    def rows_with(self, columns: Any) -> Any:
        """Mask of the rows with a nonzero in one of `columns` (indices)."""
        import numpy as np

        order, starts = self.by_column
        out = np.zeros(len(self.row_lower), dtype=bool)
        out[self.rows_of[order[spans(starts[columns], starts[columns + 1])]]] = True
        return out

    def _rows(self, pick: Any) -> tuple[Any, Any, Any, Any, Any]:
        """(lower, upper, CSR starts, indices, values) of the rows where the mask `pick` is True."""
        import numpy as np

        lengths = np.diff(np.append(self.starts, len(self.index)))
        take = np.repeat(pick, lengths)  # the nonzeros of the picked rows
        kept = lengths[pick]
        starts = (np.cumsum(kept) - kept).astype(np.int32)
        return self.row_lower[pick], self.row_upper[pick], starts, self.index[take], self.value[take]

    def row(self, i: int) -> tuple[Any, Any]:
        """(column indices, values) of row `i`'s nonzeros."""
        lo = int(self.starts[i])
        hi = int(self.starts[i + 1]) if i + 1 < len(self.starts) else len(self.index)
        return self.index[lo:hi], self.value[lo:hi]

    def rows_named(self, names: frozenset[str]) -> tuple[int, Any, Any, int, Any, Any, Any]:
        """The rows named in `names` as `Highs.addRows` arguments (count, lower, upper, nonzeros,
        starts, indices, values)."""
        import numpy as np

        pick = np.array([n in names for n in self.row_names], dtype=bool)
        lower, upper, starts, index, value = self._rows(pick)
        return int(pick.sum()), lower, upper, len(index), starts, index, value

    def without_rows(self, names: frozenset[str]) -> HighsMatrix:
        """The same columns with the rows named in `names` left out (a relaxation)."""
        import numpy as np

        return self.rows_where(np.array([n not in names for n in self.row_names], dtype=bool))

    def rows_where(self, keep: Any) -> HighsMatrix:
        """The same columns with only the rows where the mask `keep` is True."""
        if keep.all():
            return self
        lower, upper, starts, index, value = self._rows(keep)
        return HighsMatrix(
            self.variables,
            self.cost,
            self.lower,
            self.upper,
            self.integer,
            lower,
            upper,
            starts,
            index,
            value,
            self.offset,
            [n for n, k in zip(self.row_names, keep, strict=True) if k] if self.row_names else [],
        )


def highs_matrix(problem: Any, columns: list[Any] | None = None) -> HighsMatrix:
    """Columns, objective and rows of `problem` as numpy arrays (CSR rows).

    `columns`: `problem.variables()` when the caller has it already (it costs a scan of every row).
    """
    import numpy as np

    variables = list(problem.variables() if columns is None else columns)
    col = {id(v): i for i, v in enumerate(variables)}
    n = len(variables)
    inf = math.inf
    lower = np.array([-inf if v.lowBound is None else float(v.lowBound) for v in variables], dtype=float)
    upper = np.array([inf if v.upBound is None else float(v.upBound) for v in variables], dtype=float)
    integer = np.array([i for i, v in enumerate(variables) if v.cat == pulp.LpInteger], dtype=np.int32)
    cost = np.zeros(n)
    for v, a in problem.objective.items():
        cost[col[id(v)]] += a
    # Rows in bulk: each row's columns and coefficients appended as whole sequences (C loops, typed
    # arrays), zero coefficients dropped afterwards with one mask.
    lengths = array("q")
    index = array("i")
    value = array("d")
    row_lower = array("d")
    row_upper = array("d")
    row_names: list[str] = []
    column_of = col.__getitem__
    listed = problem.constraints
    for con in listed() if callable(listed) else listed.values():  # PuLP >= 3.3: a call; older: a dict
        expr = getattr(con, "expr", con)  # PuLP >= 3.3 wraps an expression; older: is one
        row_names.append(str(con.name))
        lengths.append(len(expr))
        index.extend(map(column_of, map(id, expr.keys())))
        value.extend(expr.values())
        lb, ub = con.getLb(), con.getUb()
        row_lower.append(-inf if lb is None else float(lb))
        row_upper.append(inf if ub is None else float(ub))
    idx = np.frombuffer(index, dtype=np.int32) if len(index) else np.zeros(0, dtype=np.int32)
    val = np.frombuffer(value, dtype=float) if len(value) else np.zeros(0)
    per_row = np.frombuffer(lengths, dtype=np.int64) if len(lengths) else np.zeros(0, dtype=np.int64)
    nonzero = val != 0
    if nonzero.all():  # the usual case: the buffers are the arrays (no mask, no copies)
        starts = (np.cumsum(per_row) - per_row).astype(np.int32)
        idx_kept, val_kept = idx, val
    else:
        row_of = np.repeat(np.arange(len(per_row), dtype=np.int32), per_row)
        kept = np.bincount(row_of[nonzero], minlength=len(per_row))
        starts = (np.cumsum(kept) - kept).astype(np.int32)
        idx_kept, val_kept = idx[nonzero].copy(), val[nonzero].copy()
    return HighsMatrix(
        variables,
        cost,
        lower,
        upper,
        integer,
        np.array(row_lower, dtype=float),
        np.array(row_upper, dtype=float),
        starts,
        idx_kept,
        val_kept,
        float(problem.objective.constant or 0.0),
        row_names,
    )


def _columns_hold(mat: HighsMatrix, x: Any, tol: float) -> bool:
    """x meets every column bound and integrality of `mat` (relative tolerance `tol`)."""
    import numpy as np

    scale = tol * np.maximum(1.0, np.abs(x))
    if np.any(x < mat.lower - scale) or np.any(x > mat.upper + scale):
        return False
    ints = x[mat.integer]
    return not (len(ints) and np.any(np.abs(ints - np.round(ints)) > tol))


def _rows_hold(activity: Any, lower: Any, upper: Any, tol: float) -> bool:
    """lower <= activity <= upper, each side within `tol` x max(1, |activity|)."""
    import numpy as np

    slack = tol * np.maximum(1.0, np.abs(activity))
    return bool(np.all(activity >= lower - slack) and np.all(activity <= upper + slack))


def feasible(mat: HighsMatrix, x: Any, tol: float = 1e-6) -> bool:
    """x meets every bound, row and integrality of `mat` (relative tolerance `tol`)."""
    if not _columns_hold(mat, x, tol):
        return False
    return not len(mat.row_lower) or _rows_hold(mat.activity(x), mat.row_lower, mat.row_upper, tol)


def spans(lo: Any, hi: Any) -> Any:
    """The integers of the half-open ranges [lo[k], hi[k]) one after another (vectorised
    `concatenate(arange(lo[k], hi[k]))`)."""
    import numpy as np

    lengths = hi - lo
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    first = np.cumsum(lengths) - lengths  # where range k starts in the output
    return np.repeat(lo - first, lengths) + np.arange(total, dtype=np.int64)


def row_blocks(mat: HighsMatrix, owner: Any) -> Any:
    """The block whose columns alone each row holds (`owner`: block of each column, -1 for shared
    columns), or -1 for a row with columns of several blocks, a shared column, or no nonzero."""
    import numpy as np

    rows_of = mat.rows_of
    of_nonzero = owner[mat.index]
    high = np.full(len(mat.row_lower), -1, dtype=np.int64)
    np.maximum.at(high, rows_of, of_nonzero)
    low = np.full(len(mat.row_lower), np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(low, rows_of, of_nonzero)
    return np.where(high == low, high, -1)


@dataclass(frozen=True, slots=True)
class Restriction:
    """`mat` with every column outside `columns` fixed at a value: the free columns' problem."""

    matrix: HighsMatrix
    """Columns: the free ones, in their order in `mat`; rows: those with a free column, their bounds
    shifted by the fixed columns' activity; offset: `mat`'s plus the fixed columns' cost."""
    columns: Any
    """Index in `mat` of each column of `matrix`."""
    consistent: bool = True
    """Every row left out (no free column) holds at the fixed values; when False no completion
    of the fixed values is a plan of `mat`."""
    rows: Any = None
    """Index in `mat` of each row of `matrix`."""
    fixed_activity: Any = None
    """The fixed columns' activity a_F in each row of `matrix`."""

    def activity(self, values: Any) -> Any:
        """Activity in `mat` of the rows of `matrix` (`rows`) at `values`, a completion of the
        fixed values: a_F + the free columns' part."""
        return self.fixed_activity + self.matrix.activity(values[self.columns])

    def holds(self, mat: HighsMatrix, values: Any, activity: Any = None, tol: float = 1e-6) -> bool:
        """`values` (the fixed values completed on `columns`) is a plan of `mat`: the same test as
        `feasible(mat, values)` (bounds and integrality of every column, relative tolerance `tol`)
        on the rows with a free column; the other rows are `consistent` (they do not change).
        `activity`: `self.activity(values)` when the caller has it."""
        if not self.consistent or not _columns_hold(mat, values, tol):
            return False
        if not len(self.matrix.row_lower):
            return True
        activity = self.activity(values) if activity is None else activity
        return _rows_hold(activity, mat.row_lower[self.rows], mat.row_upper[self.rows], tol)


def restrict(mat: HighsMatrix, free: Any, x: Any, rows: Any = None, activity: Any = None) -> Restriction:
    """`mat` with the columns where the mask `free` is False fixed at their values in `x`.

    Row i keeps its free nonzeros, with bounds [L_i - a_F, U_i - a_F] where a_F = sum over fixed
    columns j of A_ij x_j; rows without a free column are dropped (x must meet them: callers fix
    columns at values of a plan, or at 0 where the rows they alone hold are relaxed on purpose).
    A plan of the restriction, completed by `x` on the fixed columns, is a plan of `mat` exactly
    when it meets the kept rows, with objective cost_F . x_F + the restriction's objective;
    `consistent` says whether the dropped rows hold at `x` (relative tolerance 1e-9).

    `rows`: a mask of the rows of `mat` to consider at all (the others are left out, as if `mat`
    had only these); `activity`: every row's activity at `x` when the caller has it (else it is
    computed for the consistency test). The work is in the nonzeros of the rows kept, through
    `mat`'s column view, plus one pass over the columns: a step that frees one workload of a
    large model touches a small share of its matrix.
    """
    import numpy as np

    columns = np.flatnonzero(free)
    touched = mat.rows_with(columns)
    if rows is not None:
        touched &= rows
    kept = np.flatnonzero(touched)
    lo, hi = mat.starts[kept].astype(np.int64), mat.row_ends[kept]
    nz = spans(lo, hi)  # the kept rows' nonzeros, row by row
    local_row = np.repeat(np.arange(len(kept), dtype=np.int64), hi - lo)
    col_of = mat.index[nz]
    val_of = mat.value[nz]
    is_free = free[col_of]
    fixed_nz = ~is_free
    fixed_activity = np.bincount(
        local_row[fixed_nz], weights=val_of[fixed_nz] * x[col_of[fixed_nz]], minlength=len(kept)
    )
    new_col = np.cumsum(free) - 1
    counts = np.bincount(local_row[is_free], minlength=len(kept))
    starts = (np.cumsum(counts) - counts).astype(np.int32)
    fixed = ~free
    sub = HighsMatrix(
        [mat.variables[i] for i in columns],
        mat.cost[columns],
        mat.lower[columns],
        mat.upper[columns],
        np.flatnonzero(mat.is_int[columns]).astype(np.int32),
        mat.row_lower[kept] - fixed_activity,
        mat.row_upper[kept] - fixed_activity,
        starts,
        new_col[col_of[is_free]].astype(np.int32),
        val_of[is_free],
        mat.offset + float(mat.cost[fixed] @ x[fixed]),
        [mat.row_names[i] for i in kept] if mat.row_names else [],
    )
    dropped = ~touched if rows is None else rows & ~touched
    if activity is None:
        activity = mat.activity(x)
    act, tol = activity[dropped], 1e-9 * np.maximum(1.0, np.abs(activity[dropped]))
    low, high = mat.row_lower[dropped] - tol, mat.row_upper[dropped] + tol
    consistent = bool(np.all(act >= low) and np.all(act <= high))
    return Restriction(sub, columns, consistent, kept, fixed_activity)


@dataclass(frozen=True, slots=True)
class BlockRelaxation:
    """A relaxation of `mat` that falls apart into independent blocks (see `block_relaxation`)."""

    blocks: tuple[Restriction, ...]
    """One problem per block: its columns, at the substituted costs, and the rows only it holds."""
    offset: float
    """The objective's constant (`mat.offset`); the relaxation's optimum is offset + the sum of the
    blocks' optima (each block's own offset is 0)."""


def block_relaxation(
    mat: HighsMatrix, blocks: list[Any], linked: list[tuple[int, int]]
) -> BlockRelaxation | None:
    """A relaxation of `mat` that is one independent problem per block of columns, or None when
    the substitution below is not valid for `mat`.

    `blocks`: column indices of each block (disjoint); the other columns are shared. `linked`:
    (shared column j, row i) pairs where row i reads sum_k a_ik x_k - g x_j <= 0 with g > 0 (an
    instance count and its packing row; other rows on x_j, such as `min_instances`, hold a shared
    column and are dropped like the fleet-wide ones). The relaxation:

    1. substitutes each linked x_j by its least value sum_k a_ik x_k / g, i.e. adds cost_j a_ik / g
       to every other column k of row i, and drops row i;
    2. drops every other shared column (at 0) and every row holding a shared column or columns of
       two blocks (limits shared across blocks: supply, site GPUs and power, GPU types, budget).

    Valid (optimum <= `mat`'s) when every shared column has cost >= 0 and lower bound >= 0: for a
    plan of `mat`, cost_j x_j >= cost_j sum_k a_ik x_k / g for a linked column, >= 0 for the others,
    and dropping rows only enlarges the feasible set. Integrality is kept on block columns.
    """
    import numpy as np

    n = len(mat.variables)
    owner = np.full(n, -1, dtype=np.int64)
    for b, cols in enumerate(blocks):
        owner[cols] = b
    shared = owner < 0
    if np.any(mat.cost[shared] < 0) or np.any(mat.lower[shared] < 0):
        return None
    cost = mat.cost.copy()
    for j, i in linked:
        cols, vals = mat.row(i)
        at_j = cols == j
        g = -float(vals[at_j].sum())
        if g <= 0 or not math.isinf(float(mat.row_lower[i])) or float(mat.row_upper[i]) > 0:
            return None
        cost[cols[~at_j]] += mat.cost[j] * vals[~at_j] / g
    row_owner = row_blocks(mat, owner)  # a row stays in block b when all its nonzeros are b's
    relaxed = mat.with_columns(cost=cost, offset=0.0)
    out = []
    for b, cols in enumerate(blocks):
        free = np.zeros(n, dtype=bool)
        free[cols] = True
        # only the rows block b alone holds: every other row is dropped before restricting
        out.append(restrict(relaxed.rows_where(row_owner == b), free, np.zeros(n)))
    return BlockRelaxation(tuple(out), mat.offset)
