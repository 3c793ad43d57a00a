"""Watching a mixed model's fit as it runs: ``fit(verbose=...)``.

``verbose=1`` (or ``True``) prints a table of the optimizer's progress to
``sys.stdout`` while the fit runs: the first evaluation of each phase and
every evaluation that lowers the best criterion by at least
:data:`VISIBLE_IMPROVEMENT`, then a final line (converged or not, the number of
evaluations, the time). ``verbose=2`` prints every evaluation. A callable
receives a :class:`FitRecord` at every evaluation instead (nothing is
printed), to collect the trace or draw it; returning ``True`` or raising
``StopIteration`` stops the fit with :class:`~mixedmodels.exceptions.FitStoppedError`,
and any other exception it raises ends the fit and propagates. Ctrl-C
interrupts a fit at its next evaluation with ``KeyboardInterrupt``, with or
without ``verbose``. ``all_fit(verbose=...)`` watches its refits the same way:
they run side by side, so their records interleave, each naming its ``refit``.

The records come from the core's optimizers as they evaluate the criterion
(lme4's ``verbose = 2`` prints the same numbers, one line per evaluation).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from mixedmodels.exceptions import DataError

__all__ = ["VISIBLE_IMPROVEMENT", "FitRecord", "FitTrace"]

# verbose=1 prints an evaluation when it lowers the best criterion by at least
# this much since the last line printed (on the scale of -2 log-likelihood,
# where 0.001 is far below any difference that matters in a test).
VISIBLE_IMPROVEMENT = 1e-3

# At most this many values of theta (and beta) on a line.
SHOWN_VALUES = 6


@dataclass(frozen=True)
class FitRecord:
    """One evaluation of the criterion during a fit.

    - ``phase``: ``"theta"`` for a linear mixed model; ``"stage 1"`` (theta,
      with beta estimated inside PIRLS) and ``"stage 2"`` (theta and beta) for
      a GLMM.
    - ``optimizer``: ``"bfgs"``, ``"bobyqa"``, ``"nelder_mead"``, or
      ``"boundary"`` for the checks of a fit that ended on a bound.
    - ``evaluation``: 1, 2, ... over the whole fit; the last record's is the
      fit's number of evaluations (``optsummary["feval"]``; for a GLMM the sum
      of both stages'; for a negative binomial whose theta is estimated, as
      ``glmer.nb``, every refit of theta's search counts, which the optimizer's
      record, that of the last refit, does not).
    - ``objective``: the criterion at ``theta`` (REML criterion or deviance;
      a GLMM's Laplace deviance, or in stage 2 of an ``nAGQ > 1`` fit the
      quadrature deviance, on its own scale); ``inf`` where the point failed.
    - ``best``: the lowest criterion of the phase so far; ``improved``:
      whether this evaluation lowered it.
    - ``theta``: the covariance parameters (lme4's ``getME(m, "theta")``);
      ``beta``: the fixed effects of a GLMM (None for linear models).
    - ``gradient_norm``: the Euclidean norm of the criterion's gradient in
      theta, where the optimizer computes it (BFGS), else None.
    - ``pirls_iterations``: the PIRLS iterations of a GLMM fit so far (None
      for linear models).
    - ``elapsed``: seconds since the fit started.
    - ``refit``: the optimizer of the ``all_fit`` refit the record belongs to
      (None for a fit); ``evaluation`` and ``best`` are the refit's own.
    """

    phase: str
    optimizer: str
    evaluation: int
    objective: float
    best: float
    improved: bool
    theta: tuple[float, ...]
    beta: tuple[float, ...] | None
    gradient_norm: float | None
    pirls_iterations: int | None
    elapsed: float
    refit: str | None = None


Callback = Callable[[FitRecord], Any]


class FitTrace:
    """The progress of one fit: the core's callback, and the printing of
    ``verbose=1``/``2`` (see the module's documentation)."""

    def __init__(
        self, verbose: bool | int | Callback | None, criterion: str, refits: Sequence[str] | None = None
    ) -> None:
        self.level, self.user = _verbose_level(verbose)
        self.criterion = criterion
        self.refits = None if refits is None else list(refits)
        self.started = time.perf_counter()
        # The best criterion printed, by refit and phase.
        self.printed_best: dict[tuple[str | None, str], float] = {}
        self.headed = False
        # The columns, chosen from the first record: the refit (all_fit), the
        # phase (GLMMs), the gradient's norm (optimizers that compute it),
        # PIRLS's count (GLMMs).
        self.columns: tuple[bool, bool, bool, bool] = (False, False, False, False)
        self.last: FitRecord | None = None
        # all_fit's refits report from several threads.
        self.lock = threading.Lock()

    @property
    def callback(self) -> Callable[[dict[str, Any]], bool] | None:
        """What the core calls with each record (None: nothing to watch)."""
        return self._receive if (self.level or self.user) else None

    @property
    def printing(self) -> bool:
        return self.level > 0

    def _receive(self, raw: dict[str, Any]) -> bool:
        beta = raw["beta"]
        record = FitRecord(
            phase=raw["phase"],
            optimizer=raw["optimizer"],
            evaluation=raw["evaluation"],
            objective=raw["objective"],
            best=raw["best"],
            improved=raw["improved"],
            theta=tuple(raw["theta"]),
            beta=None if beta is None else tuple(beta),
            gradient_norm=raw["gradient_norm"],
            pirls_iterations=raw["pirls_iterations"],
            elapsed=time.perf_counter() - self.started,
            refit=raw.get("refit"),
        )
        with self.lock:
            self.last = record
            if self.user is not None:
                try:
                    return self.user(record) is True
                except StopIteration:
                    return True
            self._print(record)
            return False

    def _print(self, r: FitRecord) -> None:
        if not self.headed:
            self.headed = True
            gradient = r.gradient_norm is not None or (self.refits is not None and "bfgs" in self.refits)
            self.columns = (r.refit is not None, r.phase != "theta", gradient, r.pirls_iterations is not None)
            self._write(self._header(r))
        key = (r.refit, r.phase)
        new_phase = key not in self.printed_best
        visible = r.improved and self.printed_best.get(key, float("inf")) - r.best >= VISIBLE_IMPROVEMENT
        if self.level >= 2 or new_phase or visible:
            self.printed_best[key] = min(self.printed_best.get(key, float("inf")), r.best)
            self._write(self._row(r))

    def _header(self, r: FitRecord) -> str:
        what = "every evaluation" if self.level >= 2 else f"improvements of at least {VISIBLE_IMPROVEMENT:g}"
        if self.refits is not None:
            title = f"{self.criterion} of the refits by {', '.join(self.refits)} (side by side), {len(r.theta)} theta"
        else:
            title = f"{self.criterion} by {r.optimizer}, {len(r.theta)} theta"
        if r.beta is not None:
            title += f", {len(r.beta)} beta"
        refit, phase, gradient, pirls = self.columns
        columns = (f"{'refit':<11} " if refit else "") + f"{'eval':>6}  "
        columns += (f"{'phase':<8} " if phase else "") + f"{'optimizer':<11} "
        columns += f"{'criterion':>14} {'best':>14}"
        columns += (f" {'|grad|':>9}" if gradient else "") + (f" {'PIRLS':>6}" if pirls else "")
        columns += "  theta" + (" | beta" if r.beta is not None else "")
        return f"{title} (showing {what})\n{columns}"

    def _row(self, r: FitRecord) -> str:
        refit, phase, gradient, pirls = self.columns
        line = (f"{r.refit or '':<11} " if refit else "") + f"{r.evaluation:>6}  "
        line += (f"{r.phase:<8} " if phase else "") + f"{r.optimizer:<11} "
        line += f"{r.objective:>14.6f} {r.best:>14.6f}"
        if gradient:
            line += f" {'' if r.gradient_norm is None else f'{r.gradient_norm:.3g}':>9}"
        if pirls:
            line += f" {'' if r.pirls_iterations is None else r.pirls_iterations:>6}"
        line += f"  {_values(r.theta)}"
        if r.beta is not None:
            line += f" | {_values(r.beta)}"
        return line

    def finish(self, optsummary: dict[str, Any]) -> None:
        """The final line (``verbose=1``/``2``): converged or not, evaluations, time."""
        if not self.printing:
            return
        seconds = time.perf_counter() - self.started
        state = "converged" if optsummary.get("converged", True) else "NOT converged"
        evaluations = self.last.evaluation if self.last is not None else 0
        notes = []
        if optsummary.get("geval"):
            notes.append(f"{optsummary['geval']} with the gradient")
        if optsummary.get("derivative_evaluations"):
            notes.append(f"{optsummary['derivative_evaluations']} more for the derivatives at the optimum")
        counted = f"{evaluations} evaluations" + (f" ({'; '.join(notes)})" if notes else "")
        best = f", {self.criterion} {self.last.best:.6f}" if self.last is not None else ""
        status = optsummary.get("status", "")
        self._write(f"{state} after {counted} in {seconds:.2f} s{best}: {status}")

    def finish_refits(self, objectives: Sequence[float]) -> None:
        """The final line of ``all_fit(verbose=1/2)``: the refits' time and lowest criterion."""
        if not self.printing:
            return
        seconds = time.perf_counter() - self.started
        finite = [v for v in objectives if v == v]
        lowest = f", lowest {self.criterion} {min(finite):.6f}" if finite else ""
        self._write(f"{len(objectives)} refits in {seconds:.2f} s{lowest}")

    @staticmethod
    def _write(text: str) -> None:
        # sys.stdout at the time of writing: a notebook's or capsys's stream.
        print(text, file=sys.stdout, flush=True)


def _values(values: Sequence[float]) -> str:
    shown = ", ".join(f"{v:.5g}" for v in values[:SHOWN_VALUES])
    more = f", ... ({len(values)})" if len(values) > SHOWN_VALUES else ""
    return f"[{shown}{more}]"


def _verbose_level(verbose: Any) -> tuple[int, Callback | None]:
    """(0, 1 or 2, the user's callable or None) from ``fit(verbose=...)``."""
    if verbose is None or verbose is False:
        return 0, None
    if verbose is True:
        return 1, None
    if isinstance(verbose, int) and verbose >= 0:
        return min(verbose, 2), None
    if callable(verbose):
        return 0, verbose
    raise DataError(f"verbose must be True/False, 0, 1, 2 or a callable taking a FitRecord, not {verbose!r}")
