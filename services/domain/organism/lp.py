"""A thin, fast wrapper around one in-memory HiGHS LP that is re-solved many times."""

from __future__ import annotations

from dataclasses import dataclass

import highspy
import numpy as np
import scipy.sparse as sp

from services.runtime.quiet import stdout_to_log

_STATUS = {
    highspy.HighsModelStatus.kOptimal: "optimal",
    highspy.HighsModelStatus.kInfeasible: "infeasible",
    highspy.HighsModelStatus.kUnbounded: "unbounded",
    highspy.HighsModelStatus.kUnboundedOrInfeasible: "infeasible_or_unbounded",
    highspy.HighsModelStatus.kTimeLimit: "time_limit",
    highspy.HighsModelStatus.kIterationLimit: "iteration_limit",
}


@dataclass(frozen=True)
class LPSolution:
    """Raw result of one LP solve."""

    status: str
    objective: float
    x: np.ndarray


def quiet_highs() -> highspy.Highs:
    """A `Highs` solver that writes nothing to stdout: its banner is logged at DEBUG, its log is off."""
    with stdout_to_log("highs"):
        highs = highspy.Highs()
        highs.setOptionValue("output_flag", False)
    return highs


class HighsLP:
    """One LP `min/max c'x  s.t.  row_lower <= A x <= row_upper, lower <= x <= upper`, kept in memory.

    Bound and cost changes are applied to the live model and every solve starts from
    `basis` (set by `remember_basis`), so successive solves are warm-started dual simplex
    runs. Not thread-safe: one instance per thread/process.
    """

    def __init__(
        self, A: sp.spmatrix, cost: np.ndarray, lower: np.ndarray, upper: np.ndarray,
        row_lower: np.ndarray, row_upper: np.ndarray, maximize: bool = False,
    ) -> None:
        A = sp.csc_matrix(A)
        A.sort_indices()
        self.n_cols, self.n_rows = A.shape[1], A.shape[0]
        self._highs = quiet_highs()
        for option, value in (("presolve", "off"), ("threads", 1), ("simplex_strategy", 1)):
            self._highs.setOptionValue(option, value)
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = self.n_cols, self.n_rows
        lp.col_cost_ = np.asarray(cost, dtype=float)
        lp.col_lower_, lp.col_upper_ = np.asarray(lower, dtype=float), np.asarray(upper, dtype=float)
        lp.row_lower_, lp.row_upper_ = np.asarray(row_lower, dtype=float), np.asarray(row_upper, dtype=float)
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = A.indptr.astype(np.int32)
        lp.a_matrix_.index_ = A.indices.astype(np.int32)
        lp.a_matrix_.value_ = A.data.astype(float)
        lp.sense_ = highspy.ObjSense.kMaximize if maximize else highspy.ObjSense.kMinimize
        self._highs.passModel(lp)
        self._cols = np.arange(self.n_cols, dtype=np.int32)
        self._rows = np.arange(self.n_rows, dtype=np.int32)
        self._basis: highspy.HighsBasis | None = None

    def set_option(self, name: str, value: bool | int | float | str) -> None:
        """Set one HiGHS option on this LP (e.g. ``simplex_dual_edge_weight_strategy``)."""
        self._highs.setOptionValue(name, value)

    def set_col_bounds(self, lower: np.ndarray, upper: np.ndarray) -> None:
        """Replace every column bound."""
        self._highs.changeColsBounds(self.n_cols, self._cols, lower, upper)

    def set_some_col_bounds(self, index: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> None:
        """Replace the bounds of the columns in `index`."""
        self._highs.changeColsBounds(len(index), np.asarray(index, dtype=np.int32), lower, upper)

    def set_row_bounds(self, index: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> None:
        """Replace the bounds of the rows in `index`."""
        self._highs.changeRowsBounds(  # type: ignore[attr-defined]  # missing from highspy stubs
            len(index), np.asarray(index, dtype=np.int32), lower, upper
        )

    def set_cost(self, cost: np.ndarray, maximize: bool) -> None:
        """Replace the objective vector and sense."""
        self._highs.changeColsCost(self.n_cols, self._cols, np.asarray(cost, dtype=float))
        self._highs.changeObjectiveSense(highspy.ObjSense.kMaximize if maximize else highspy.ObjSense.kMinimize)

    def remember_basis(self) -> None:
        """Keep the current optimal basis as the warm start of later solves."""
        self._basis = self._highs.getBasis()

    def current_basis(self) -> highspy.HighsBasis:
        """The basis of the last solve (to warm-start a later, similar LP with `start_from`)."""
        return self._highs.getBasis()

    def start_from(self, basis: highspy.HighsBasis | None) -> None:
        """Warm-start later solves from ``basis``; None: from wherever the solver stands after its last solve."""
        self._basis = basis

    def solve(self, fresh: bool = False) -> LPSolution:
        """Solve from the remembered basis (if any) and return status, objective and primal values.

        ``fresh`` first drops the solver's state from earlier solves (factorisation, edge weights), so the
        answer depends only on the model and the remembered basis, not on what was solved before.
        """
        if fresh:
            self._highs.clearSolver()
        if self._basis is not None:
            self._highs.setBasis(self._basis)
        self._highs.run()
        status = _STATUS.get(self._highs.getModelStatus(), "error")
        if status != "optimal":
            return LPSolution(status, 0.0, np.zeros(self.n_cols))
        objective = self._highs.getInfo().objective_function_value
        return LPSolution(status, float(objective), np.array(self._highs.getSolution().col_value))
