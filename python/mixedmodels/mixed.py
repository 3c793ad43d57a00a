"""The mixed-model layer shared by :class:`~mixedmodels.Lmer` and
:class:`~mixedmodels.Glmer`: the random effects and their tables, the
covariance parameters, prediction with or without the random effects,
simulation, marginal means and Wald intervals.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import polars as pl

from mixedmodels import _core
from mixedmodels import intervals as _intervals
from mixedmodels import posthoc as _posthoc
from mixedmodels._args import check_fits_in_memory, seed_value, whole_number
from mixedmodels._frame import check_columns, missing_rows, to_polars
from mixedmodels.exceptions import DataError
from mixedmodels.model import FittedModel, Residuals
from mixedmodels.sources import source_of

__all__ = ["MixedModel", "RandomTerm"]


@dataclass(frozen=True)
class RandomTerm:
    """A random-effects term in lme4's order (most levels first): its grouping
    factor ``group``, the names of its effects ``cnames``, the factor's
    ``levels``, the conditional modes ``ranef`` (levels x q), the covariance
    of its effects ``covariance`` (q x q, on the response's scale) and where
    its parameters start in ``theta`` (``theta_offset``)."""

    group: str
    cnames: list[str]
    levels: list[str]
    ranef: np.ndarray
    covariance: np.ndarray
    theta_offset: int


class MixedModel(FittedModel):
    """A fitted model with random effects: the base of ``Lmer`` and ``Glmer``."""

    is_mixed: ClassVar[bool] = True
    default_residuals: ClassVar[str] = "response"
    """The kind of ``residuals`` (lme4: response for linear, deviance for generalized models)."""

    def __init__(self, formula: str, data: Any) -> None:
        super().__init__(formula, data)
        self.ddf = "Satterthwaite"
        self.fixef: dict[str, pl.DataFrame] | None = None
        self.ranef: dict[str, pl.DataFrame] | None = None
        self.ranef_var: pl.DataFrame | None = None
        self.ranef_corr: pl.DataFrame | None = None
        self.grps: dict[str, int] | None = None
        self.theta: np.ndarray | None = None
        self.sigma: float | None = None
        self.singular: bool | None = None

    def _collect_results(self) -> None:
        super()._collect_results()
        f = self._fit
        self.theta = np.asarray(f.theta)
        self.sigma = float(f.sigma)
        self.singular = bool(f.singular)
        if self.source is not None:
            # Row-level results of an out-of-core fit: lazy frames of the engine.
            rows = self.source.complete_frame(self._streamed.used)
            self.fits = self.source.predictions(self._streamed, f, rows, {"fits": "eta"})
            self.residuals = self.source.predictions(self._streamed, f, rows, {"residuals": "resid"})
        else:
            self.fits = np.asarray(f.fitted)
            self.residuals = Residuals(np.asarray(f.residuals(self.default_residuals)), self._residuals_of)
        terms = self.random_terms
        self.grps = {}
        for t in terms:
            self.grps.setdefault(t.group, len(t.levels))
        self.ranef = _ranef_tables(terms)
        self.fixef = _coef_tables(terms, self.fixed_names, self.beta)
        self.ranef_var, self.ranef_corr = _varcorr_tables(terms, self.sigma, self.has_scale)

    def _residuals_of(self, type: str) -> np.ndarray:
        """lme4's ``residuals(m, type)``: response, pearson, deviance or working."""
        return np.asarray(self._fit.residuals(type))

    # ------------------------------------------------------ random effects
    @property
    def random_terms(self) -> list[RandomTerm]:
        """The random-effects terms (see :class:`RandomTerm`)."""
        self._check_fitted()
        return [
            RandomTerm(
                t["group"],
                list(t["cnames"]),
                list(t["levels"]),
                np.asarray(t["ranef"]),
                np.asarray(t["covariance"]),
                int(t["theta_offset"]),
            )
            for t in self._fit.terms()
        ]

    @property
    def sd_cor_names(self) -> list[str]:
        """lme4's names of the covariance parameters on the sd/cor scale
        (``sd_(Intercept)|Subject``, ``cor_Days.(Intercept)|Subject``), in theta's order."""
        self._check_fitted()
        return list(self._fit.sd_cor_names())

    @property
    def has_scale(self) -> bool:
        """Whether the family has a scale parameter (sigma): Gaussian, Gamma, inverse Gaussian."""
        self._check_fitted()
        return bool(self._fit.has_scale)

    @property
    def optsummary(self) -> dict[str, Any]:
        """The optimizer's record: evaluations, status, start and end."""
        self._check_fitted()
        return dict(self._fit.optsummary())

    def ranef_condvar(self) -> dict[str, np.ndarray]:
        """Conditional variances of the random effects: (levels, q, q) a term."""
        self._check_fitted()
        out = {}
        for t, v in zip(self.random_terms, self._fit.condvar(), strict=True):
            q = len(t.cnames)
            key = t.group if t.group not in out else f"{t.group}.{len(out)}"
            out[key] = np.asarray(v).reshape(len(t.levels), q, q)
        return out

    # ------------------------------------------------------- prediction
    def predict(
        self,
        data: Any,
        use_rfx: bool = True,
        pred_type: str = "response",
        skip_data_checks: bool = False,
        verify_predictions: bool = True,
        verbose: bool = False,
    ) -> np.ndarray:
        """Predictions for new data, on the response (``pred_type="response"``)
        or link scale (a linear model's are the same). Unseen groups, and rows
        whose grouping factor is missing, get zero random effects; rows with a
        missing value (null or NaN) in a column the prediction reads are NaN,
        as R's ``predict()`` gives NA for them."""
        self._check_fitted()
        if pred_type not in ("response", "link"):
            raise DataError("pred_type must be 'response' or 'link'")
        target = source_of(data) if self.source is not None else None
        if target is not None:
            return self._predict_lazy(target, use_rfx)
        frame = to_polars(data)
        needed = self.columns_read(response=False, groups=use_rfx)
        check_columns(frame.columns, needed)
        # Missing in the data given (a level outside fit(factors=...) stays an error).
        missing = missing_rows(frame, self._value_columns(use_rfx))
        out = np.full(frame.height, np.nan)
        if missing.all():
            return out
        if missing.any():
            frame = frame.filter(pl.Series(~missing))
        core = self.core_frame(frame, needed)
        out[~missing] = np.asarray(self._fit.predict(core, use_rfx, pred_type == "response"))
        return out

    def _predict_lazy(self, target: Any, use_rfx: bool) -> Any:
        """Predictions for data an engine holds, as the engine's lazy frame:
        the data with a ``prediction`` column (an out-of-core fit's predict)."""
        needed = self.columns_read(response=False, groups=use_rfx)
        check_columns(target.columns(), needed)
        if target.engine != self.source.engine:
            raise DataError(
                f"predict: the model was fitted with {self.source.engine}; give new data as a {self.source.engine} "
                "frame, or in memory (a polars or pandas DataFrame)"
            )
        return target.predictions(self._streamed, self._fit, target.frame, {"prediction": "eta"}, use_rfx)

    def _value_columns(self, use_rfx: bool) -> list[str]:
        """The columns whose values enter a prediction (grouping factors
        aside): all of them with the random effects, else the fixed part's."""
        if use_rfx:
            return self.columns_read(response=False, groups=False)
        structure = _core.formula_structure(self.formula)
        parts = [*structure["terms"], *(f"offset({o})" for o in structure["offsets"])]
        if not parts:
            return []
        return self.columns_read("~ " + " + ".join(parts), response=False)

    def simulate(
        self, num_datasets: int = 1, use_rfx: bool = True, seed: int | None = None, verbose: bool = False
    ) -> pl.DataFrame:
        """Simulated responses, one column a dataset. ``use_rfx=True`` keeps the
        estimated random effects; ``False`` draws new ones."""
        self._check_fitted()
        num_datasets = whole_number(num_datasets, "num_datasets", minimum=1)
        self._check_rows_held("simulate")
        check_fits_in_memory(num_datasets * self.nobs, f"simulate({num_datasets})")
        sims = np.asarray(self._fit.simulate(num_datasets, bool(use_rfx), seed_value(seed)))
        return pl.DataFrame({f"sim_{i + 1}": sims[:, i] for i in range(sims.shape[1])})

    # --------------------------------------------------------- inference
    def confint(
        self,
        method: str = "Wald",
        level: float = 0.95,
        n_boot: int = 500,
        seed: int | None = None,
        progress: bool | None = None,
    ) -> pl.DataFrame:
        """Confidence intervals (`term, lower, upper`) for the sd/cor parameters,
        `sigma` and the fixed effects: ``"Wald"``, and for linear mixed models
        ``"profile"`` (likelihood profile; lme4 profiles the ML deviance even
        for REML fits, and so do we) or ``"boot"`` (parametric bootstrap
        percentiles, ``n_boot`` refits)."""
        self._check_fitted()
        return _intervals.confint(self, method=method, level=level, n_boot=n_boot, seed=seed, progress=progress)

    def post_hoc(
        self,
        marginal_vars: str | Sequence[str],
        grouping_vars: str | Sequence[str] | None = None,
        p_adjust: str = "tukey",
        summarize: bool = True,
        level: float = 0.95,
        trend: str | None = None,
        contrasts: str = "pairwise",
        type: str = "link",
    ) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Estimated marginal means (or trends, with ``trend="x"``) and their
        contrasts, as emmeans computes them: Satterthwaite df for a linear
        mixed model, asymptotic z tests for a generalized one (``type="link"``
        or ``"response"``: means back-transformed, and for the log and logit
        links pairwise ratios). Returns ``(marginal_estimates,
        marginal_contrasts)``. ``p_adjust``: tukey, bonf, holm, hochberg,
        hommel, fdr, sidak, dunnet, mvt, scheffe, none."""
        self._check_fitted()
        return _posthoc.post_hoc(
            self,
            marginal_vars,
            grouping_vars=grouping_vars,
            p_adjust=p_adjust,
            summarize=summarize,
            level=level,
            trend=trend,
            contrasts=contrasts,
            type=type,
        )


# ---------------------------------------------------------------- tables
def _ranef_tables(terms: list[RandomTerm]) -> dict[str, pl.DataFrame]:
    """Conditional modes by grouping factor (terms sharing a factor are merged)."""
    out: dict[str, pl.DataFrame] = {}
    for t in terms:
        cols = {c: t.ranef[:, i] for i, c in enumerate(t.cnames)}
        if t.group in out:
            out[t.group] = out[t.group].with_columns(**{k: pl.Series(v) for k, v in cols.items()})
        else:
            out[t.group] = pl.DataFrame({"level": t.levels, **cols})
    return out


def _coef_tables(terms: list[RandomTerm], names: list[str], beta: np.ndarray) -> dict[str, pl.DataFrame]:
    """R's coef(): fixed effects plus each level's random effects."""
    out: dict[str, pl.DataFrame] = {}
    for g, tab in _ranef_tables(terms).items():
        n = tab.height
        cols: dict[str, Any] = {"level": tab["level"]}
        for j, name in enumerate(names):
            v = np.full(n, beta[j])
            if name in tab.columns:
                v = v + tab[name].to_numpy()
            cols[name] = v
        for c in tab.columns:
            if c != "level" and c not in names:
                cols[c] = tab[c].to_numpy()
        out[g] = pl.DataFrame(cols)
    return out


def group_labels(terms: list[RandomTerm]) -> list[str]:
    """lme4's VarCorr names: a grouping factor with several terms is
    ``Subject``, ``Subject.1``, ... (make.unique)."""
    seen: dict[str, int] = {}
    labels = []
    for t in terms:
        labels.append(t.group if t.group not in seen else f"{t.group}.{seen[t.group]}")
        seen[t.group] = seen.get(t.group, 0) + 1
    return labels


def _varcorr_tables(terms: list[RandomTerm], sigma: float, residual: bool) -> tuple[pl.DataFrame, pl.DataFrame]:
    """lme4's VarCorr as two tables: variances (a ``Residual`` row when the
    family has a scale) and correlations."""
    groups, names, var, sd = [], [], [], []
    c_groups, t1, t2, corr = [], [], [], []
    for t, label in zip(terms, group_labels(terms), strict=True):
        cov = t.covariance
        for i, c in enumerate(t.cnames):
            groups.append(label)
            names.append(c)
            var.append(cov[i, i])
            sd.append(np.sqrt(cov[i, i]))
        for j in range(len(t.cnames)):
            for i in range(j + 1, len(t.cnames)):
                c_groups.append(label)
                t1.append(t.cnames[j])
                t2.append(t.cnames[i])
                denom = np.sqrt(cov[i, i] * cov[j, j])
                corr.append(cov[i, j] / denom if denom > 0 else float("nan"))
    if residual:
        groups.append("Residual")
        names.append("")
        var.append(sigma**2)
        sd.append(sigma)
    ranef_var = pl.DataFrame(
        {"group": groups, "name": names, "Var": var, "Std": sd},
        schema={"group": pl.String, "name": pl.String, "Var": pl.Float64, "Std": pl.Float64},
    )
    ranef_corr = pl.DataFrame(
        {"group": c_groups, "term1": t1, "term2": t2, "Corr": corr},
        schema={"group": pl.String, "term1": pl.String, "term2": pl.String, "Corr": pl.Float64},
    )
    return ranef_var, ranef_corr
