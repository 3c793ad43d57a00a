"""lmerTest's ``step``: backward elimination of the random-effect terms, then
of the fixed terms, of a linear mixed model.

1. Random part (lmerTest's ``reduce_random``): the likelihood-ratio tests of
   :func:`~mixedmodels.compare.ranova` (``reduce_terms=True``: ``(1 + x | g)``
   is first reduced to ``(1 | g)``, ``(1 | g)`` removed); while some p-value
   exceeds ``alpha_random`` the reduction with the largest p-value is made (a
   refit, by REML if the model is a REML fit) and ranova is run again. When
   no random effect is left the model becomes a linear model
   (:class:`~mixedmodels.Lm`), as lmerTest fits it with ``lm``.
2. Fixed part (lmerTest's ``reduce_fixed``): the F tests of
   :func:`~mixedmodels.drop1.drop1` (marginal terms only, Satterthwaite or
   Kenward-Roger df; for a linear model R's ``drop1(test = "F")``); while
   some p-value exceeds ``alpha_fixed`` the term with the largest one is
   removed (a refit) and drop1 is run again.

The result holds both elimination tables (``eliminated``: the order of
removal, 0 for the terms kept, null for the full model's row) and the final
model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from mixedmodels import _core
from mixedmodels._table import result_table
from mixedmodels.compare import LRT_SCHEMA, _formula_text, _reductions, ranova
from mixedmodels.contest import check_ddf
from mixedmodels.drop1 import drop1
from mixedmodels.exceptions import DataError
from mixedmodels.lm import Lm
from mixedmodels.model import FittedModel

__all__ = ["StepResult", "step"]


@dataclass
class StepResult:
    """What :func:`step` returns: ``random`` (the random-effect elimination
    table: ``term, eliminated, npar, logLik, AIC, LRT, Df, P-val``),
    ``fixed`` (the fixed-effect one: ``term, eliminated, SS, MS, NumDF,
    DenomDF, F-stat, P-val, Sig``), ``model`` (the final fitted model) and
    ``ddf`` (the df method of the F tests). ``eliminated`` is the order in
    which a term was removed, 0 for a term kept (lmerTest's ``Eliminated``)."""

    random: pl.DataFrame
    fixed: pl.DataFrame
    model: FittedModel
    ddf: str

    def __str__(self) -> str:
        return "\n".join(
            [
                "Backward reduced random-effect table:",
                "",
                str(self.random),
                "",
                "Backward reduced fixed-effect table:",
                f"Degrees of freedom method: {self.ddf}",
                "",
                str(self.fixed),
                "",
                "Model found:",
                self.model.formula,
            ]
        )

    def __repr__(self) -> str:
        return self.__str__()


def step(
    model: Any,
    ddf: str = "Satterthwaite",
    alpha_random: float = 0.1,
    alpha_fixed: float = 0.05,
    reduce_random: bool = True,
    reduce_fixed: bool = True,
    keep: Sequence[str] = (),
) -> StepResult:
    """Backward elimination as lmerTest's ``step`` (see the module's
    documentation). ``keep`` names fixed terms never removed (nor, then, the
    terms they contain); ``reduce_random=False`` / ``reduce_fixed=False``
    test without removing (R sets the alpha to 1)."""
    if not getattr(model, "fitted", False):
        raise DataError("the model has not been fitted yet: call fit() first")
    if model.is_generalized or not model.is_mixed:
        raise DataError("step() is lmerTest's backward elimination for linear mixed models (Lmer)")
    check_ddf(model, ddf, "step")
    alpha_random = 1.0 if not reduce_random else _alpha(alpha_random, "alpha_random")
    alpha_fixed = 1.0 if not reduce_fixed else _alpha(alpha_fixed, "alpha_fixed")
    keep = [keep] if isinstance(keep, str) else list(keep)
    labels = [t.label for t in model.fixed_terms]
    unknown = [k for k in keep if k not in labels]
    if unknown:
        raise DataError(f"step: keep names {', '.join(unknown)}, not fixed terms of the model ({', '.join(labels)})")
    random_table, reduced = _reduce_random(model, alpha_random)
    fixed_table, final = _reduce_fixed(reduced, ddf, alpha_fixed, keep)
    return StepResult(random_table, fixed_table, final, check_ddf(model, ddf, "step"))


def _alpha(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise DataError(f"{name} must be a number between 0 and 1, not {value!r}")
    return float(value)


def _largest_above(pvalues: Sequence[Any], alpha: float) -> int | None:
    """The position of the largest p-value above ``alpha`` (the first of ties,
    as R's ``which.max``), or None; missing p-values never count."""
    best = None
    for i, p in enumerate(pvalues):
        if p is not None and np.isfinite(p) and p > alpha and (best is None or p > pvalues[best]):
            best = i
    return best


# ------------------------------------------------------------ random part
def _reduce_random(model: Any, alpha: float) -> tuple[pl.DataFrame, Any]:
    table = ranova(model)
    eliminated = [table.row(0, named=True) | {"eliminated": None}]
    current = model
    while True:
        index = _largest_above(table["P-val"].to_list()[1:], alpha)
        if index is None:
            break
        form = _core.formula_structure(current.formula)
        _, bars = _reductions(form, True)[index]
        bars = list(dict.fromkeys(bars))
        eliminated.append(table.row(index + 1, named=True) | {"eliminated": len(eliminated)})
        formula = _formula_text(form, bars)
        if not bars:
            current, table = _linear_model(current, formula), None
            break
        current = current.with_formula(formula)
        current.fit(**_refit_options(model))
        table = ranova(current)
    kept = [] if table is None else [r | {"eliminated": 0} for r in table.rows(named=True)[1:]]
    columns = ["term", "eliminated", "npar", "logLik", "AIC", "LRT", "Df", "P-val"]
    schema = {"eliminated": pl.Int64, **dict(table.schema if table is not None else LRT_SCHEMA)}
    return result_table(pl.DataFrame(eliminated + kept, schema=schema).select(columns)), current


def _refit_options(model: Any) -> dict[str, Any]:
    """The fit() arguments of ``model``'s refits: its own, REML or ML as it, quiet."""
    return {**model.fit_options, "REML": model.REML, "summarize": False, "no_warnings": True}


def _linear_model(model: Any, formula: str) -> FittedModel:
    """The linear model (R's ``lm``) of a formula without random effects, on
    the mixed model's data, weights and factor coding (lmerTest's ``get_lm_call``)."""
    opts = model.fit_options
    lm = Lm(formula, model.data)
    lm.fit(
        summarize=False,
        no_warnings=True,
        weights=opts.get("weights"),
        factors=opts.get("factors"),
        ordered=opts.get("ordered", False),
        contrasts=opts.get("contrasts"),
    )
    return lm


# ------------------------------------------------------------- fixed part
def _reduce_fixed(model: Any, ddf: str, alpha: float, keep: list[str]) -> tuple[pl.DataFrame, Any]:
    table = drop1(model, ddf=ddf)
    current = model
    eliminated: list[dict[str, Any]] = []
    while True:
        consider = [i for i, t in enumerate(table["term"].to_list()) if t not in keep]
        pvalues = table["P-val"].to_list()
        index = _largest_above([pvalues[i] for i in consider], alpha)
        if index is None:
            break
        row = table.row(consider[index], named=True)
        eliminated.append(row | {"eliminated": len(eliminated) + 1})
        reduced = current.update(f". ~ . - {row['term']}", no_warnings=True)
        if reduced.nobs != current.nobs:
            raise DataError("number of rows in use has changed: remove missing values?")
        current = reduced
        table = drop1(current, ddf=ddf)
    kept = [r | {"eliminated": 0} for r in table.rows(named=True)]
    columns = ["term", "eliminated", *[c for c in table.columns if c != "term"]]
    schema = {"eliminated": pl.Int64, **dict(table.schema)}
    return result_table(pl.DataFrame(eliminated + kept, schema=schema).select(columns)), current
