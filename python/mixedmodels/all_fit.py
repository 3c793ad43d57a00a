"""``all_fit()``: the model refitted with every optimizer, lme4's ``allFit``
and the table ``summary(allFit(m))`` gives, one row an optimizer.

The check a convergence warning calls for: when the optimizers reach the same
objective and estimates, the warning is a false alarm; when they do not, the
lowest objective is the better fit (and the model may be poorly determined).
The refits run in parallel in Rust, each from the fit's start with the fit's
settings but for ``max_feval``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import polars as pl

from mixedmodels._args import whole_number
from mixedmodels._table import result_table
from mixedmodels.exceptions import DataError
from mixedmodels.fit_trace import Callback, FitTrace

if TYPE_CHECKING:
    from mixedmodels.mixed import MixedModel

__all__ = ["all_fit"]

OPTIMIZERS = ("bobyqa", "nelder_mead", "bfgs")
"""Every optimizer there is; GLMMs have no ``"bfgs"`` (their deviance has no gradient here)."""


def all_fit(
    model: MixedModel,
    optimizers: Sequence[str] | None = None,
    max_feval: int = 100_000,
    verbose: bool | int | Callback = False,
) -> pl.DataFrame:
    """A table of the refits, one row an optimizer: ``optimizer``,
    ``converged`` (the optimizer said so and no convergence check warned),
    ``objective`` (the criterion minimised: REML criterion or deviance),
    ``loglik``, ``max_diff_objective`` (above the lowest objective of the
    table), ``feval``, ``seconds``, ``messages`` (the optimizer's status,
    the refit's warnings, or why it failed), then the fixed effects, the
    random effects' standard deviations and correlations (lme4's
    ``sdcor``), ``sigma`` for families with a scale, and ``theta``.
    ``verbose`` shows the refits' progress as ``fit(verbose=...)`` does (see
    :mod:`mixedmodels.fit_trace`); the records of the refits, which run side
    by side, interleave, each naming its ``refit``."""
    if optimizers is not None:
        if isinstance(optimizers, str):
            optimizers = [optimizers]
        unknown = [o for o in optimizers if o not in OPTIMIZERS]
        if unknown:
            raise DataError(f"unknown optimizer {unknown[0]!r} in all_fit (known: {', '.join(OPTIMIZERS)})")
    max_feval = whole_number(max_feval, "max_feval", minimum=1)
    chosen = list(optimizers) if optimizers is not None else None
    names = chosen or [o for o in OPTIMIZERS if not (model.is_generalized and o == "bfgs")]
    trace = FitTrace(verbose, "deviance" if model.is_generalized or not model.REML else "REML criterion", names)
    fits = model.core.all_fit(chosen, max_feval, progress=trace.callback)
    table = _table(model, fits)
    trace.finish_refits(table["objective"].to_list())
    return result_table(table)


def _table(model: MixedModel, fits: list[dict[str, Any]]) -> pl.DataFrame:
    fixed, sd_cor = model.fixed_names, model.sd_cor_names
    ntheta = len(model.theta) if model.theta is not None else 0
    nan = float("nan")
    rows = []
    for f in fits:
        ok = f["error"] is None
        warnings = list(f["warnings"]) if ok else []
        row: dict[str, Any] = {
            "optimizer": f["optimizer"],
            "converged": bool(ok and f["converged"] and not any(_is_convergence_warning(w) for w in warnings)),
            "objective": f["objective"] if ok else nan,
            "loglik": f["loglik"] if ok else nan,
            "feval": f["feval"] if ok else None,
            "seconds": f["seconds"],
            "messages": _messages(f["status"], warnings) if ok else f"failed: {f['error']}",
        }
        row.update(zip(fixed, f["beta"] if ok else [nan] * len(fixed), strict=True))
        row.update(zip(sd_cor, f["sd_cor"] if ok else [nan] * len(sd_cor), strict=True))
        if model.has_scale:
            row["sigma"] = f["sigma"] if ok else nan
        row["theta"] = list(f["theta"]) if ok else [nan] * ntheta
        rows.append(row)
    table = pl.DataFrame(rows, schema_overrides={"feval": pl.Int64, "theta": pl.List(pl.Float64)})
    best = table["objective"].min()
    diff = table["objective"] - best if best is not None else table["objective"]
    return table.insert_column(4, diff.alias("max_diff_objective"))


def _messages(status: str, warnings: list[str]) -> str:
    """The optimizer's status, then the warnings that do not repeat it."""
    return "; ".join([status, *(w for w in warnings if status not in w)])


def _is_convergence_warning(text: str) -> bool:
    return text.startswith(("Model failed to converge", "unable to evaluate scaled gradient"))
