"""Influence diagnostics and residual tables of mixed models, as R's HLMdiag
defines them (Loy and Hofmann 2014), with HLMdiag's column names:

- :func:`influence` (``m.influence()``): Cook's distance, MDFFITS, COVTRACE,
  COVRATIO and leverage for deleting each observation or each level of a
  grouping factor; by HLMdiag's one-step formulas (``approx=True``) or by
  refitting without it (``approx=False``, which adds the relative variance
  changes ``rvc.*``).
- :func:`hlm_resid` (``m.hlm_resid()``): conditional (EB), least-squares and
  marginal residuals at the observation or the group level.
- :func:`hlm_augment` (``m.hlm_augment()``): both, joined.

The computations are the Rust core's (``mixedmodels::diagnostics``): nothing
n x n is formed, refits run in parallel. This module reads the model's public
interface only.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

from mixedmodels import _core, group_sums
from mixedmodels._progress import run_in_chunks
from mixedmodels.exceptions import DataError

__all__ = ["LEVERAGE_TYPES", "clean_name", "hlm_augment", "hlm_resid", "influence", "level_values"]

LEVERAGE_TYPES = ("overall", "fixef", "ranef", "ranef.uc")
MEASURES = ("cooksd", "mdffits", "covtrace", "covratio")


# ------------------------------------------------------------ influence
def influence(
    model: Any,
    level: int | str = 1,
    approx: bool = True,
    leverage: Sequence[str] | str | None = None,
    progress: bool | None = None,
) -> pl.DataFrame:
    """Influence of each observation (``level=1``) or each level of a grouping
    factor (``level="Subject"``) on the fixed effects, HLMdiag's
    ``hlm_influence``.

    Columns: ``row`` (the row's position in the data as given) or the factor's
    name (its levels), then ``cooksd``, ``mdffits``, ``covtrace``,
    ``covratio``, and ``leverage.<type>`` for each type in ``leverage``
    (``"overall"``, ``"fixef"``, ``"ranef"``, ``"ranef.uc"``; default
    ``("overall",)`` for linear mixed models; a group's leverage is the mean of
    its rows'). ``approx=True`` uses the one-step formulas at the fitted
    parameters (linear mixed models); ``approx=False`` refits without each
    row or level, by REML or ML as the model was fitted (warm-started, in
    parallel; ``progress`` shows a bar), and adds ``rvc.sigma2``,
    ``rvc.D11``, ...: refit / full - 1 of each variance component. Generalized
    models have exact refits only (Cook's distance and MDFFITS on the
    Hessian-based covariance of the fixed effects) and no leverage.

    An out-of-core fit (``m.streamed``) deletes whole levels of a grouping
    factor from its reduced statistics (:mod:`mixedmodels.group_sums`): the
    same measures as in memory, without leverage (a row's) and without
    observation-level deletion.
    """
    model._check_fitted()
    if not isinstance(approx, bool):
        raise DataError(f"approx must be True or False, not {approx!r}")
    kinds = _leverage_types(model, leverage)
    if model.streamed:
        # from the per-group pieces of the reduced statistics (no pass over the rows)
        return group_sums.influence_groups(model, _level(model, level), approx, None if leverage is None else kinds)
    if model.is_generalized and approx:
        raise DataError(
            "the one-step formulas (approx=True) rest on a linear model's marginal covariance; "
            "a generalized model's influence comes from refits: use approx=False"
        )
    group = _level(model, level)
    core = model.core
    if group is None:
        sets = [[i] for i in range(model.nobs)]
        key = pl.DataFrame({"row": model.fit_rows})
    else:
        codes, levels = _core.grouping(core, group)
        codes = np.asarray(codes)
        sets = [np.flatnonzero(codes == c).tolist() for c in range(len(levels))]
        key = pl.DataFrame({group: level_values(model, group, levels)})
    if approx and group is None:
        values = _core.influence_observations(core)
        columns = {m: values[m] for m in MEASURES}
    elif approx:
        values = _core.influence_sets(core, sets, True)
        columns = {m: values[m] for m in MEASURES}
    else:
        label = "influence refits"
        parts = run_in_chunks(sets, lambda chunk: _core.influence_sets(core, chunk, False), label, progress)
        columns = {m: np.concatenate([p[m] for p in parts]) for m in MEASURES}
        rvc = np.vstack([p["rvc"] for p in parts])
        for j, name in enumerate(parts[0]["rvc_names"]):
            columns[f"rvc.{name}"] = rvc[:, j]
        _warn_refits(
            np.isnan(columns["cooksd"]),
            np.array([c for p in parts for c in p["converged"]]),
            "rows" if group is None else f"levels of {group}",
        )
    if kinds:
        obs = _core.influence_observations(core)
        for kind in kinds:
            lev = np.asarray(obs[f"leverage.{kind}"])
            columns[f"leverage.{kind}"] = lev if group is None else np.array([lev[s].mean() for s in sets])
    table = key.with_columns(pl.DataFrame(columns))
    return table.fill_nan(None)


def _warn_refits(failed: np.ndarray, converged: np.ndarray, what: str) -> None:
    """Say how many refits failed (null measures) or stopped before converging."""
    total = len(failed)
    if failed.any():
        model_warning(
            f"{int(failed.sum())} of {total} refits without one of the {what} failed (the rows left do not "
            "identify the fixed effects, e.g. a factor level only those rows have): their measures are null"
        )
    unconverged = int((~converged & ~failed).sum())
    if unconverged:
        model_warning(f"{unconverged} of {total} refits without one of the {what} stopped before converging")


def model_warning(message: str) -> None:
    """A warning about a diagnostic's computation (Python's ``warnings``)."""
    warnings.warn(message, stacklevel=3)


def _leverage_types(model: Any, leverage: Sequence[str] | str | None) -> list[str]:
    if leverage is None:
        return [] if model.is_generalized else ["overall"]
    kinds = [leverage] if isinstance(leverage, str) else list(leverage)
    for k in kinds:
        if k not in LEVERAGE_TYPES:
            raise DataError(f"leverage type {k!r} is not one of {', '.join(LEVERAGE_TYPES)}")
    if kinds and model.is_generalized:
        raise DataError("leverage is defined for linear mixed models (the hat matrix of V); use leverage=()")
    return kinds


def _level(model: Any, level: int | str) -> str | None:
    """None for the observation level, else the grouping factor's name (checked)."""
    if isinstance(level, (int, np.integer)) and not isinstance(level, bool) and level == 1:
        return None
    groups = list(dict.fromkeys(t.group for t in model.random_terms))
    if isinstance(level, str) and level in groups:
        return level
    raise DataError(f"level must be 1 or a grouping factor of the model ({', '.join(groups)}), not {level!r}")


def level_values(model: Any, group: str, levels: Sequence[Any]) -> pl.Series:
    """A grouping factor's levels (strings), in the data column's type when the factor is a column."""
    labels = pl.Series(group, [str(v) for v in levels], dtype=pl.String)
    frame = model.fit_frame
    if group in frame.columns:
        dtype = frame.schema[group]
        if dtype.is_numeric() or dtype == pl.Boolean:
            try:
                return labels.cast(dtype)
            except pl.exceptions.InvalidOperationError:
                return labels
        if isinstance(dtype, (pl.Enum, pl.Categorical)):
            return labels.cast(dtype)
    return labels


# ------------------------------------------------------------ residuals
def clean_name(name: str) -> str:
    """HLMdiag's column names of effects: ``(Intercept)`` -> ``intercept``,
    ``MachineB`` -> ``machine_b``."""
    name = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    name = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    name = re.sub(r"[^a-z0-9]+", "_", name.lower())
    return name.strip("_")


def hlm_resid(
    model: Any, level: int | str = 1, standardize: bool | str = False, include_ls: bool = True
) -> pl.DataFrame:
    """HLMdiag's residual table of a linear mixed model.

    ``level=1``: one row per observation of the fit (``row``, the columns the
    formula reads, then) ``.resid`` and ``.fitted`` (conditional, the empirical
    Bayes residuals), ``.ls.resid`` and ``.ls.fitted`` (least squares within
    each level of the lowest grouping factor), ``.mar.resid`` and
    ``.mar.fitted`` (marginal, y - X beta). ``standardize=True`` gives
    ``.std.resid`` (divided by sigma), ``.std.ls.resid`` (R's rstandard within
    the group) and ``.chol.mar.resid`` (L^{-1} (y - X beta), V = L L');
    ``"semi"`` gives ``.semi.ls.resid`` (divided by sqrt(1 - h)).

    ``level="<factor>"``: one row per level: ``.ranef.<effect>`` (the
    conditional modes; standardized, ``.std.ranef.*`` divided by their
    conditional SDs) and ``.ls.<effect>`` (the group's least-squares
    coefficient minus their mean; standardized, divided by their SD too), for
    the effects that are also fixed effects. Effect names as HLMdiag cleans
    them (``intercept``, ``days``).
    """
    model._check_fitted()
    if model.streamed:
        raise DataError(
            "HLMdiag's residuals are a row's (and, by group, least-squares fits on each group's rows): an "
            "out-of-core fit holds only the sums over its rows; fit in memory for them"
        )
    if standardize not in (False, True, "semi"):
        raise DataError(f"standardize must be False, True or 'semi', not {standardize!r}")
    if not isinstance(include_ls, bool):
        raise DataError(f"include_ls must be True or False, not {include_ls!r}")
    group = _level(model, level)
    if group is None:
        return _observation_residuals(model, standardize, include_ls)
    return _group_residuals(model, group, standardize is True, include_ls)


def _observation_residuals(model: Any, standardize: bool | str, include_ls: bool) -> pl.DataFrame:
    core = model.core
    frame = model.fit_frame.select(model.columns_read())
    resid = np.asarray(model.residuals("response"))
    columns: dict[str, Any] = {}
    if standardize is True:
        columns[".std.resid"] = resid / model.sigma
    else:
        columns[".resid"] = resid
    columns[".fitted"] = np.asarray(model.fits)
    if include_ls:
        ls = _core.residuals_ls(core)
        if ls["rank_deficient"]:
            model_warning(
                f"least-squares residuals of {ls['rank_deficient']} groups come from rank-deficient fits "
                "(fewer rows than fixed effects, or predictors constant in the group); use include_ls=False "
                "for the conditional residuals only"
            )
        name = {True: ".std.ls.resid", "semi": ".semi.ls.resid", False: ".ls.resid"}[standardize]
        key = {True: "standardized", "semi": "semi_standardized", False: "resid"}[standardize]
        columns[name] = ls[key]
        columns[".ls.fitted"] = ls["fitted"]
    mar, mar_fitted = _core.residuals_marginal(core)
    if standardize is True:
        columns[".chol.mar.resid"] = _core.residuals_cholesky(core)
    else:
        columns[".mar.resid"] = mar
    columns[".mar.fitted"] = mar_fitted
    out = pl.DataFrame({"row": model.fit_rows}).with_columns(frame).with_columns(pl.DataFrame(columns))
    return out.fill_nan(None)


def _group_residuals(model: Any, group: str, standardize: bool, include_ls: bool) -> pl.DataFrame:
    # ranef_condvar() has one entry a term, in the terms' order
    pairs = [
        (t, v) for t, v in zip(model.random_terms, model.ranef_condvar().values(), strict=True) if t.group == group
    ]
    terms = [t for t, _ in pairs]
    levels = terms[0].levels
    columns: dict[str, Any] = {group: level_values(model, group, levels)}
    prefix = ".std.ranef." if standardize else ".ranef."
    for t, var in pairs:
        for c, name in enumerate(t.cnames):
            values = t.ranef[:, c]
            if standardize:
                values = values / np.sqrt(var[:, c, c])
            columns[prefix + clean_name(name)] = values
    if include_ls:
        names, ls_levels, values, standardized = _core.residuals_ls_groups(model.core, group)
        assert list(ls_levels) == list(levels)
        missing = [n for t in terms for n in t.cnames if n not in names]
        if missing:
            model_warning(f"no least-squares residuals for {', '.join(missing)}: random effects without a fixed effect")
        table = np.asarray(standardized if standardize else values)
        prefix = ".std.ls." if standardize else ".ls."
        for j, name in enumerate(names):
            columns[prefix + clean_name(name)] = table[:, j]
    return pl.DataFrame(columns).fill_nan(None)


def hlm_augment(model: Any, level: int | str = 1, include_ls: bool = True, approx: bool = True) -> pl.DataFrame:
    """HLMdiag's ``hlm_augment``: :func:`hlm_resid` and :func:`influence` (with
    the default leverage) joined, one row per observation or level."""
    resid = hlm_resid(model, level=level, include_ls=include_ls)
    infl = influence(model, level=level, approx=approx)
    key = infl.columns[0]
    return resid.with_columns(infl.drop(key))
