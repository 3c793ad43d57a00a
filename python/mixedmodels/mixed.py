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
from scipy.special import expit

from mixedmodels import _core
from mixedmodels import all_fit as _all_fit
from mixedmodels import cross_validation as _cross_validation
from mixedmodels import diagnostics as _diagnostics
from mixedmodels import intervals as _intervals
from mixedmodels import plots as _plots
from mixedmodels import posthoc as _posthoc
from mixedmodels._args import check_fits_in_memory, seed_value, whole_number
from mixedmodels._fitargs import rank_columns, with_permutations
from mixedmodels._frame import check_columns, missing_rows, to_polars
from mixedmodels.control import Control
from mixedmodels.exceptions import DataError, UnavailableError
from mixedmodels.fit_trace import Callback
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
        if not _core.formula_structure(formula)["bars"]:
            raise DataError(
                f"'{formula}': the formula has no random-effects term such as (1 | group); "
                "for a model without random effects use mixedmodels.Lm (Lm(formula, data).fit())"
            )
        self.ddf = "Satterthwaite"
        self.fixef: dict[str, pl.DataFrame] | None = None
        self.ranef: dict[str, pl.DataFrame] | None = None
        self.ranef_var: pl.DataFrame | None = None
        self.ranef_corr: pl.DataFrame | None = None
        self.grps: dict[str, int] | None = None
        self.theta: np.ndarray | None = None
        self.sigma: float | None = None
        self.singular: bool | None = None
        self.marginal_estimates: pl.DataFrame | None = None
        self.marginal_contrasts: pl.DataFrame | None = None
        self.sig_type: str | None = None
        self.control: Control = Control()

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
        if self.source is None:
            self._add_fit_columns({"fits": self.fits, "residuals": np.asarray(self.residuals)})

    # ------------------------------------------------- pymer4's fit options
    def _ranked_frame(
        self, rank_group: str, exclude: str | Sequence[str], factors: Any, notes: list[str]
    ) -> pl.DataFrame:
        """pymer4's ``rank=True``: the response and the numeric variables of
        the fixed part replaced by their ranks within ``rank_group`` (ties
        averaged), but for ``exclude``."""
        if not rank_group:
            raise DataError("rank_group must be provided if rank is True")
        check_columns(self._frame.columns, [rank_group])
        exclude = [exclude] if isinstance(exclude, str) else list(exclude)
        with_response = self.columns_read(groups=False)
        predictors = set(self._value_columns(False))
        response = [c for c in with_response if c not in self.columns_read(response=False, groups=False)]
        groups = set(self.columns_read(response=False)) - set(self.columns_read(response=False, groups=False))
        to_rank = [c for c in [*response, *sorted(predictors)] if c not in exclude and c != rank_group]
        to_rank = [c for c in to_rank if c not in groups]
        if factors and set(factors) - set(exclude):
            notes.append(
                "Factors and ranks requested, but factors are not excluded from rank conversion. "
                "Are you sure you wanted to do this?"
            )
        return rank_columns(self._frame, to_rank, over=rank_group)

    def _finish_pymer4_fit(self, n_perm: int, seed: int | None, notes: list[str], no_warnings: bool) -> None:
        """After the core's fit: the warnings ``control`` keeps, pymer4's
        permutation p-values (``permute=N``), and the warnings issued."""
        self.warnings = self.control.filter_warnings(self.warnings) + notes
        self.sig_type = f"permutation ({n_perm})" if n_perm else "parametric"
        if n_perm:
            pvalues, _ = self._fit.permutation_test(n_perm, seed_value(seed))
            assert self.coefs is not None
            self.coefs = with_permutations(self.coefs, pvalues, n_perm)
        self._warn(no_warnings)

    def _residuals_of(self, type: str) -> np.ndarray:
        """lme4's ``residuals(m, type)``: response, pearson, deviance or working."""
        return np.asarray(self._fit.residuals(type))

    def _estimates(self) -> dict[str, Any]:
        return {
            "REML": bool(self.REML),
            "theta": [float(t) for t in self.theta],
            "beta": [float(b) for b in self.beta],
            "optsummary": {k: v for k, v in self.optsummary.items() if k != "derivative_evaluations"},
        }

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
    def sd_cor(self) -> np.ndarray:
        """The covariance parameters on lme4's sd/cor scale (standard deviations
        and correlations of the random effects), in the order of ``sd_cor_names``."""
        self._check_fitted()
        return np.asarray(self._fit.sd_cor())

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
        re_form: str | bool | None = None,
    ) -> np.ndarray:
        """Predictions for new data, on the response (``pred_type="response"``)
        or link scale (a linear model's are the same). Unseen groups, and rows
        whose grouping factor is missing, get zero random effects; rows with a
        missing value (null or NaN) in a column the prediction reads are NaN,
        as R's ``predict()`` gives NA for them.

        ``re_form`` is lme4's ``re.form``: None (the default) leaves the choice
        to ``use_rfx`` (all random effects or none); ``"~0"``, ``"NA"`` or
        False gives the population level; a formula of random-effect terms
        such as ``"(1 | Subject)"`` conditions on those effects only (for a
        model with ``(Days | Subject)``: the subjects' intercepts, not their
        slopes), reading only the grouping factors it names."""
        self._check_fitted()
        if pred_type not in ("response", "link"):
            raise DataError("pred_type must be 'response' or 'link'")
        re = _re_form(use_rfx, re_form)
        target = source_of(data) if self.source is not None else None
        if target is not None:
            return self._predict_lazy(target, re)
        frame = to_polars(data)
        needed = self._prediction_columns(re)
        check_columns(frame.columns, needed)
        # Missing in the data given (a level outside fit(factors=...) stays an error).
        missing = missing_rows(frame, self._value_columns(re))
        out = np.full(frame.height, np.nan)
        if missing.all():
            return out
        if missing.any():
            frame = frame.filter(pl.Series(~missing))
        core = self.core_frame(frame, needed)
        out[~missing] = np.asarray(self._fit.predict(core, re, pred_type == "response"))
        return out

    def _predict_lazy(self, target: Any, re: str | bool) -> Any:
        """Predictions for data an engine holds, as the engine's lazy frame:
        the data with a ``prediction`` column (an out-of-core fit's predict)."""
        if isinstance(re, str):
            raise UnavailableError(
                "predict(re_form=<formula>) of data an engine holds: not available; use re_form=None (every "
                "random effect) or False (none), or give the new data in memory"
            )
        needed = self.columns_read(response=False, groups=re)
        check_columns(target.columns(), needed)
        if target.engine != self.source.engine:
            raise DataError(
                f"predict: the model was fitted with {self.source.engine}; give new data as a {self.source.engine} "
                "frame, or in memory (a polars or pandas DataFrame)"
            )
        return target.predictions(self._streamed, self._fit, target.frame, {"prediction": "eta"}, re)

    def _prediction_columns(self, re: str | bool) -> list[str]:
        """The columns a prediction reads: the fixed part's, and the random
        part's (all of them, or those of a ``re_form`` formula)."""
        if isinstance(re, bool):
            return self.columns_read(response=False, groups=re)
        columns = self.columns_read(response=False, groups=False)
        return columns + [c for c in self.columns_read(_formula_of(re), response=False) if c not in columns]

    def _value_columns(self, re: str | bool) -> list[str]:
        """The columns whose values enter a prediction (grouping factors
        aside): all of them with the random effects, else the fixed part's."""
        if re is True or isinstance(re, str):
            return self.columns_read(response=False, groups=False)
        structure = _core.formula_structure(self.formula)
        parts = [*structure["terms"], *(f"offset({o})" for o in structure["offsets"])]
        if not parts:
            return []
        return self.columns_read("~ " + " + ".join(parts), response=False)

    def simulate(
        self,
        num_datasets: int = 1,
        use_rfx: bool = True,
        seed: int | None = None,
        verbose: bool = False,
        re_form: str | bool | None = None,
    ) -> pl.DataFrame:
        """Simulated responses, one column a dataset. ``use_rfx=True`` keeps the
        estimated random effects; ``False`` draws new ones. ``re_form`` (lme4's
        ``re.form``, see :meth:`predict`) keeps the random effects of the terms
        it names and draws new ones for the other terms; it names whole terms
        (a term named in part is refused: lme4 would add the named effects'
        modes to new draws of the whole term)."""
        self._check_fitted()
        num_datasets = whole_number(num_datasets, "num_datasets", minimum=1)
        self._check_rows_held("simulate")
        check_fits_in_memory(num_datasets * self.nobs, f"simulate({num_datasets})")
        re = _re_form(use_rfx, re_form)
        frame = None
        if isinstance(re, str):
            frame = self.core_frame(self.fit_frame, self._prediction_columns(re))
        sims = np.asarray(self._fit.simulate(num_datasets, re, seed_value(seed), frame))
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
        `sigma` (linear models) and the fixed effects: ``"Wald"``,
        ``"profile"`` (likelihood profile; lme4 profiles the ML deviance of a
        linear model even for REML fits, and so do we; a GLMM's Laplace or
        quadrature deviance) or ``"boot"`` (parametric bootstrap percentiles,
        ``n_boot`` refits, reproducible for a ``seed``)."""
        self._check_fitted()
        return _intervals.confint(self, method=method, level=level, n_boot=n_boot, seed=seed, progress=progress)

    def bootstrap(self, n_boot: int = 500, seed: int | None = None, progress: bool | None = None) -> pl.DataFrame:
        """Parametric bootstrap replicates (a row each: sd/cor parameters,
        `sigma` for linear models, fixed effects), refitted in parallel in
        Rust; reproducible for a given ``seed`` whatever the number of threads."""
        self._check_fitted()
        return _intervals.bootstrap(self, n_boot=n_boot, seed=seed, progress=progress)

    def all_fit(
        self, optimizers: Sequence[str] | None = None, max_feval: int = 100_000, verbose: bool | int | Callback = False
    ) -> pl.DataFrame:
        """The model refitted with every optimizer (``"bobyqa"``,
        ``"nelder_mead"`` and, for linear mixed models, ``"bfgs"``; or those
        in ``optimizers``), in parallel in Rust, each from the fit's start:
        lme4's ``allFit``, the check a convergence warning calls for. Returns
        a table with a row an optimizer, as ``summary(allFit(m))``:
        ``optimizer``, ``converged``, ``objective``, ``loglik``,
        ``max_diff_objective``, ``feval``, ``seconds``, ``messages``, the
        fixed effects, the sd/cor parameters, ``sigma`` (families with a
        scale) and ``theta``. ``verbose`` shows the refits' progress as
        :meth:`fit` does (see :mod:`mixedmodels.fit_trace`). See
        docs/convergence.md."""
        self._check_fitted()
        return _all_fit.all_fit(self, optimizers, max_feval, verbose)

    def _intervals_from(self, method: str, n_boot: int, seed: int | None = None) -> None:
        """Fill the coefs' interval columns (and their odds-ratio and
        probability versions) from profile or bootstrap intervals."""
        assert self.coefs is not None
        ci = self.confint(method=method, n_boot=n_boot, seed=seed)
        fixed = ci.filter(pl.col("term").is_in(self.coefs["term"].to_list()))
        lo, hi = fixed["lower"].to_numpy(), fixed["upper"].to_numpy()
        columns = [pl.Series("2.5_ci", lo), pl.Series("97.5_ci", hi)]
        if "OR_2.5_ci" in self.coefs.columns:
            with np.errstate(over="ignore"):
                columns += [pl.Series("OR_2.5_ci", np.exp(lo)), pl.Series("OR_97.5_ci", np.exp(hi))]
            columns += [pl.Series("Prob_2.5_ci", expit(lo)), pl.Series("Prob_97.5_ci", expit(hi))]
        self.coefs = self.coefs.with_columns(columns)

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
        verbose: bool = False,
    ) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Estimated marginal means (or trends, with ``trend="x"``) and their
        contrasts, as emmeans computes them: Satterthwaite df for a linear
        mixed model, asymptotic z tests for a generalized one (``type="link"``
        or ``"response"``: means back-transformed, and for the log and logit
        links pairwise ratios). Returns ``(marginal_estimates,
        marginal_contrasts)``. ``p_adjust``: tukey, bonf, holm, hochberg,
        hommel, fdr, sidak, dunnet, mvt, scheffe, none. The tables are also
        kept as ``model.marginal_estimates`` and ``model.marginal_contrasts``,
        as pymer4 keeps them (``verbose`` is accepted for pymer4, which
        printed R's messages with it; there are none here)."""
        self._check_fitted()
        self.marginal_estimates, self.marginal_contrasts = _posthoc.post_hoc(
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
        return self.marginal_estimates, self.marginal_contrasts

    # ------------------------------------------------------------- plots
    def plot_summary(
        self,
        figsize: tuple[float, float] = (12, 6),
        error_bars: str = "ci",
        ranef: bool = True,
        axlim: tuple[float, float] | None = None,
        plot_intercept: bool = True,
        ranef_alpha: float = 0.5,
        coef_fmt: str = "o",
        orient: str = "v",
        ranef_idx: int = 0,
        ax: Any = None,
    ) -> Any:
        """Forest plot of the fixed effects (``error_bars``: ``"ci"`` or
        ``"se"``) over the per-group coefficients of the ``ranef_idx``-th
        grouping factor; returns the matplotlib Axes (see
        :func:`mixedmodels.plots.plot_summary`)."""
        self._check_fitted()
        return _plots.plot_summary(
            self, figsize, error_bars, ranef, axlim, plot_intercept, ranef_alpha, coef_fmt, orient, ranef_idx, ax
        )

    def plot(
        self,
        param: str,
        figsize: tuple[float, float] = (8, 6),
        xlabel: str = "",
        ylabel: str = "",
        plot_fixef: bool = True,
        plot_ci: bool = True,
        grps: Sequence[int] | Sequence[str] = (),
        ax: Any = None,
    ) -> Any:
        """Each group's fitted line for the predictor ``param``, with the
        population line and its Wald interval; returns the Axes (see
        :func:`mixedmodels.plots.plot_lines`)."""
        self._check_fitted()
        return _plots.plot_lines(self, param, figsize, xlabel, ylabel, plot_fixef, plot_ci, grps, ax)

    def plot_ranef(self, group: str | None = None, level: float = 0.95, ax: Any = None) -> Any:
        """Caterpillar plot of the conditional modes with their intervals
        (lme4's ``dotplot(ranef(m, condVar = TRUE))``); returns the Figure."""
        self._check_fitted()
        return _plots.plot_ranef(self, group=group, level=level, ax=ax)

    def plot_diagnostics(self, ax: Any = None) -> Any:
        """Residuals against fitted values, normal Q-Q plot and scale-location
        plot; returns the Figure (see :mod:`mixedmodels.plots.residuals`)."""
        self._check_fitted()
        return _plots.plot_diagnostics(self, ax=ax)

    # ------------------------------------------------------- diagnostics
    def influence(
        self,
        level: int | str = 1,
        approx: bool = True,
        leverage: Sequence[str] | str | None = None,
        progress: bool | None = None,
    ) -> pl.DataFrame:
        """HLMdiag's influence diagnostics (``hlm_influence``): Cook's
        distance, MDFFITS, COVTRACE, COVRATIO and leverage of each observation
        (``level=1``) or level of a grouping factor; one-step (``approx=True``,
        linear models) or by refits (``approx=False``, adding ``rvc.*``). See
        :func:`mixedmodels.diagnostics.influence`."""
        return _diagnostics.influence(self, level=level, approx=approx, leverage=leverage, progress=progress)

    def cross_validate(
        self,
        group: str | None = None,
        folds: int | None = None,
        scoring: Any = ("rmse",),
        seed: int | None = None,
        refit: str = "REML",
        split: str = "group",
        progress: bool | None = None,
    ) -> _cross_validation.CVResult:
        """Cross-validation over whole groups (held-out groups predicted at
        the population level) or, ``split="observation"``, over rows. See
        :func:`mixedmodels.cross_validation.cross_validate`."""
        return _cross_validation.cross_validate(
            self, group=group, folds=folds, scoring=scoring, seed=seed, refit=refit, split=split, progress=progress
        )

    def plot_influence(
        self,
        measure: str = "cooksd",
        level: int | str = 1,
        approx: bool = True,
        cutoff: Any = "internal",
        n_label: int = 5,
        ax: Any = None,
    ) -> Any:
        """HLMdiag's ``dotplot_diag`` of an influence measure (matplotlib;
        returns the Axes). See :func:`mixedmodels.plots.plot_influence`."""
        return _plots.plot_influence(
            self, measure=measure, level=level, approx=approx, cutoff=cutoff, n_label=n_label, ax=ax
        )


# --------------------------------------------------------------- re_form
_NO_RANDOM_EFFECTS = ("~0", "0", "NA", "~-1")


def _re_form(use_rfx: bool, re_form: str | bool | None) -> str | bool:
    """lme4's ``re.form`` as the core takes it: True (all random effects),
    False (none) or the text of a formula of random-effect terms."""
    if re_form is None:
        return bool(use_rfx)
    if isinstance(re_form, (bool, np.bool_)):
        return bool(re_form)
    if isinstance(re_form, float) and np.isnan(re_form):
        return False
    if not isinstance(re_form, str):
        raise DataError(f"re_form must be None, False, '~0' or a formula of random-effect terms, not {re_form!r}")
    text = re_form.strip()
    if "".join(text.split()) in _NO_RANDOM_EFFECTS:
        return False
    if text == "NULL":
        return True
    return text


def _formula_of(re_form: str) -> str:
    return re_form if re_form.lstrip().startswith("~") else f"~ {re_form}"


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
    """R's coef(): each level's fixed effects plus its random effects. As
    ``coef.merMod``, every table has the same columns: the fixed effects, then
    every random effect that is not one, in the order the terms give them
    (zero where a grouping factor has no such random effect)."""
    ranef = _ranef_tables(terms)
    refnames = list(dict.fromkeys(c for tab in ranef.values() for c in tab.columns if c != "level"))
    extra = [c for c in refnames if c not in names]
    out: dict[str, pl.DataFrame] = {}
    for g, tab in ranef.items():
        n = tab.height
        cols: dict[str, Any] = {"level": tab["level"]}
        for name, fixed in [*zip(names, beta, strict=True), *((c, 0.0) for c in extra)]:
            v = np.full(n, float(fixed))
            if name in tab.columns:
                v = v + tab[name].to_numpy()
            cols[name] = v
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
