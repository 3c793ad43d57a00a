"""``Lmer``: linear mixed-effects models with lme4's formula syntax, fitted by
the Rust core, results as polars DataFrames (the pymer4 API, without R).

``Lmer(formula, data, family=...)`` with a non-Gaussian family returns a
:class:`~mixedmodels.glmer.Glmer`, as pymer4's ``Lmer`` fits GLMMs too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl

from mixedmodels import _core, anova_table, compare, contest, diagnostics, intervals, plots
from mixedmodels import drop1 as drop1_module
from mixedmodels import step as step_module
from mixedmodels._args import reject_keywords, whole_number
from mixedmodels._fitargs import permutations, summarize_alias
from mixedmodels._stats import significance, t_pvalues, wald_interval
from mixedmodels._summary import lmer_summary
from mixedmodels.control import control_from_fit
from mixedmodels.exceptions import DataError, UnavailableError
from mixedmodels.fit_trace import Callback, FitTrace
from mixedmodels.glmer import Glmer
from mixedmodels.mixed import MixedModel
from mixedmodels.model import check_binomial_response

__all__ = ["Lmer"]

DDF_METHODS = ("Satterthwaite", "Kenward-Roger", "lme4")


class Lmer(MixedModel):
    """A linear mixed model ``Lmer(formula, data)``.

    ``formula`` uses lme4's syntax (``"Reaction ~ Days + (Days | Subject)"``);
    ``data`` is a polars DataFrame or LazyFrame, a pandas DataFrame or a
    pyarrow Table. Call :meth:`fit`, then read the results (``coefs``,
    ``ranef``, ``ranef_var``, ...), all polars DataFrames.
    """

    def __new__(cls, formula: str = "", data: Any = None, family: str = "gaussian", *args: Any, **kwargs: Any) -> Any:
        # pymer4's Lmer fits GLMMs too: a non-Gaussian family makes a Glmer.
        if cls is Lmer and str(family).lower() != "gaussian":
            model = Glmer.__new__(Glmer)
            model.__init__(formula, data, family, *args, **kwargs)  # type: ignore[misc]
            return model
        return super().__new__(cls)

    def __init__(self, formula: str, data: Any, family: str = "gaussian") -> None:
        check_binomial_response(formula, "gaussian")
        super().__init__(formula, data)
        self.REML = True
        self.ranked_data = False
        self.factors_prev_: dict[str, list[str]] | None = None
        self.contrast_codes_prev_: dict[str, np.ndarray] | None = None
        self.vcov_kr: np.ndarray | None = None

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        conf_int: str = "Wald",
        n_boot: int = 500,
        factors: Mapping[str, Any] | None = None,
        ordered: bool = False,
        REML: bool = True,
        summarize: bool = True,
        verbose: bool | int | Callback = False,
        no_warnings: bool = False,
        weights: str | Sequence[float] | np.ndarray | None = None,
        contrasts: Mapping[str, Any] | None = None,
        ddf: str = "Satterthwaite",
        max_feval: int = 10_000,
        seed: int | None = None,
        permute: int | bool = False,
        rank: bool = False,
        rank_group: str = "",
        rank_exclude_cols: str | Sequence[str] = (),
        control: str | Mapping[str, Any] | None = None,
        old_optimizer: bool = False,
        optimizer: str | None = None,
        group_sums: bool | None = None,
        **unsupported: Any,
    ) -> pl.DataFrame:
        """Fit the model; print lmerTest's summary when ``summarize`` (or
        pymer4's ``summary=``); return ``coefs``.

        ``factors`` maps a column to its level order (the first level is the
        reference of treatment coding); with ``ordered=True`` those factors get
        orthogonal polynomial contrasts. A column may instead map to a dict of
        contrast weights by level (``{"A": -1, "B": 0.5, "C": 0.5}``) or a list
        of such dicts: the dict's keys order the levels and the weights are
        converted as pymer4's ``con2R`` and R's ``contrasts<-`` do (see
        :func:`~mixedmodels.contrasts.contrasts_from_weights`). ``weights`` is a
        column name or an array of prior weights. ``contrasts`` maps a variable
        to ``"treatment"``, ``"sum"``, ``"helmert"``, ``"poly"`` or a levels x k
        matrix. ``ddf`` is ``"Satterthwaite"``, ``"Kenward-Roger"`` (REML fits)
        or ``"lme4"`` (no df, no p-values). ``conf_int="boot"`` fills the coefs'
        intervals from ``n_boot`` parametric bootstrap refits, reproducible for
        a given ``seed``; ``conf_int="profile"`` from likelihood profiles.

        pymer4's options: ``permute=N`` replaces the p-values by those of N
        refits with the response shuffled within the cells of the grouping
        factors (``Num_perm`` and ``Perm-P-val`` columns; reproducible for a
        ``seed``); ``rank=True`` fits the ranks of the response and the fixed
        part's numeric variables within ``rank_group`` (but for
        ``rank_exclude_cols``); ``control`` takes lme4's control options, as R
        text or a dict (see :mod:`mixedmodels.control`); ``old_optimizer=True``
        asks for lme4's bobyqa.

        ``optimizer`` chooses the optimizer of theta: ``"bfgs"`` (a projected
        BFGS method on the analytic gradient), ``"bobyqa"`` (Powell's
        derivative-free method, lme4's default family), ``"nelder_mead"`` (a
        bounded Nelder-Mead simplex), or lme4's names
        (see :mod:`mixedmodels.control`); by default the fit takes BFGS
        except where a gradient costs too much (docs/performance.md).

        ``verbose=True`` (or 1) prints the optimizer's progress while it runs
        (the evaluations that improve the criterion visibly, then a line with
        convergence, evaluations and time), ``verbose=2`` every evaluation; a
        callable receives a :class:`~mixedmodels.fit_trace.FitRecord` at each
        evaluation instead (return True or raise ``StopIteration`` to stop
        the fit with :class:`~mixedmodels.exceptions.FitStoppedError`). See
        :mod:`mixedmodels.fit_trace`. Ctrl-C interrupts a fit at its next
        evaluation (``KeyboardInterrupt``).

        ``group_sums`` (out-of-core fits only) controls the per-group pieces
        the pass sums beside the fit's sums, which ``influence(level=g)`` and
        ``cross_validate(group=g)`` need (:mod:`mixedmodels.group_sums`):
        None (the default) forms them when they are estimated to take at most
        ``mixedmodels.sources.base.GROUP_SUMS_MAX_BYTES`` (256 MB), True
        always (the fit is refused with the memory estimate when they cannot
        fit), False never. An in-memory fit deletes groups from its rows, so
        there it must stay None.
        """
        summarize = summarize_alias(summarize, unsupported)
        reject_keywords("Lmer.fit", unsupported)
        notes: list[str] = []
        n_perm = permutations(permute, notes)
        self.control = control_from_fit(control, old_optimizer).with_optimizer(optimizer)
        method = self.control.method
        if ddf not in DDF_METHODS:
            raise DataError(f"ddf must be 'Satterthwaite', 'Kenward-Roger' or 'lme4', not '{ddf}'")
        if ddf == "Kenward-Roger" and not REML:
            raise DataError("Kenward-Roger's method is only available for REML fits (REML=True)")
        if conf_int not in intervals.METHODS:
            raise DataError(f"conf_int must be 'Wald', 'profile' or 'boot', not '{conf_int}'")
        max_feval = whole_number(max_feval, "max_feval", minimum=1)
        self._check_group_sums(group_sums)
        options = {"max_feval": max_feval, "ddf": ddf, "control": control, "old_optimizer": old_optimizer}
        options["optimizer"] = optimizer
        options.update({"rank": rank, "rank_group": rank_group, "rank_exclude_cols": rank_exclude_cols})
        frame, weight_name, core_contrasts = self._prepare_fit(factors, ordered, weights, contrasts, options)
        if rank:
            self._check_rows_held("fit(rank=True)")
            self._frame = self._ranked_frame(rank_group, rank_exclude_cols, factors, notes)
            frame = self.core_frame(self._frame, [*self._columns, *([weight_name] if weight_name else [])])
        self.ranked_data = bool(rank)
        derivatives = ddf != "lme4" if self.control.derivatives is None else self.control.derivatives
        trace = FitTrace(verbose, "REML criterion" if REML else "deviance")
        if self.source is not None:
            self._fit_out_of_core(ddf, weight_name, REML, derivatives, max_feval, n_perm, trace, group_sums)
        else:
            self._fit = _core.LmerFit.fit(
                self.formula,
                frame,
                reml=REML,
                weights=weight_name,
                contrasts=core_contrasts,
                derivatives=derivatives,
                max_feval=max_feval,
                optimizer=self.control.settings,
                method=method,
                progress=trace.callback,
            )
        self.REML = REML
        self.ddf = ddf if derivatives else "lme4"
        coefs = self._finish_fit(summarize=False, verbose=False, no_warnings=True)
        trace.finish(self.optsummary)
        self._finish_pymer4_fit(n_perm, seed, notes, no_warnings)
        coefs = self.coefs
        if conf_int != "Wald":
            self._intervals_from(conf_int, n_boot, seed)
            coefs = self.coefs
        if summarize:
            print(self.summary_text())
        return coefs

    def _fit_out_of_core(
        self,
        ddf: str,
        weights: str | None,
        reml: bool,
        derivatives: bool,
        max_feval: int,
        n_perm: int,
        trace: FitTrace,
        group_sums: bool | None = None,
    ) -> None:
        """The fit from sums over the source's rows (see :mod:`mixedmodels.sources`)."""
        assert self.source is not None
        if ddf == "Kenward-Roger":
            raise UnavailableError(
                "Kenward-Roger's df need Z row by row (the n x n marginal covariance), which an out-of-core fit "
                "does not hold: use ddf='Satterthwaite', or collect the data to fit it in memory"
            )
        if n_perm:
            self._check_rows_held("fit(permute=...)")
        self._fit, self._streamed = self.source.fit_lmer(
            self.formula,
            self._coding,
            weights,
            reml,
            derivatives,
            max_feval,
            self.control.settings,
            self.control.method,
            trace.callback,
            group_sums,
        )

    def _check_group_sums(self, group_sums: Any) -> None:
        """``fit(group_sums=...)``: None, True or False, and only out of core."""
        if group_sums is not None and not isinstance(group_sums, (bool, np.bool_)):
            raise DataError(f"group_sums must be True, False or None, not {group_sums!r}")
        if group_sums is not None and self.source is None:
            raise DataError(
                "group_sums applies to out-of-core fits (it chooses whether the pass sums the per-group pieces); "
                "an in-memory fit deletes groups from its rows: leave group_sums=None"
            )

    def _restore_fit(self, options: dict[str, Any], estimates: dict[str, Any]) -> None:
        """The fit at saved estimates, without optimizing (see :mod:`mixedmodels.io`)."""
        frame, weight_name, core_contrasts = self._prepare_saved_fit(options)
        if options.get("rank"):
            rank_group, exclude = options["rank_group"], options["rank_exclude_cols"]
            self._frame = self._ranked_frame(rank_group, exclude, options["factors"], [])
            frame = self.core_frame(self._frame, [*self._columns, *([weight_name] if weight_name else [])])
        self.ranked_data = bool(options.get("rank"))
        opt = estimates["optsummary"]
        record = (
            opt["optimizer"],
            list(opt["initial"]),
            opt["fmin"],
            opt["feval"],
            opt.get("geval", 0),
            opt["status"],
            opt["converged"],
        )
        self._fit = _core.LmerFit.at_theta(
            self.formula,
            frame,
            list(estimates["theta"]),
            record,
            reml=estimates["REML"],
            weights=weight_name,
            contrasts=core_contrasts,
            derivatives=options.get("ddf") != "lme4",
        )
        self.REML = estimates["REML"]
        self.ddf = options.get("ddf", "Satterthwaite")
        self._finish_fit(summarize=False, verbose=False, no_warnings=True)

    def _coef_table(self) -> pl.DataFrame:
        """lmerTest's coefficient table: t tests with Satterthwaite's or
        Kenward-Roger's df (lme4's: no df, no p-values)."""
        f = self._fit
        beta = self.beta
        se = np.sqrt(np.diag(self.vcov))
        df = np.asarray(f.df) if f.df is not None else None
        self.vcov_kr = None
        if self.ddf == "Kenward-Roger":
            vcov_kr, df_kr = f.kenward_roger()
            self.vcov_kr = np.asarray(vcov_kr)
            se, df = np.sqrt(np.diag(self.vcov_kr)), np.asarray(df_kr)
        lo, hi = wald_interval(beta, se)
        cols: dict[str, Any] = {"term": self.fixed_names, "Estimate": beta, "2.5_ci": lo, "97.5_ci": hi, "SE": se}
        t = beta / se
        if df is not None:
            p = t_pvalues(t, df)
            cols.update({"DF": df, "T-stat": t, "P-val": p, "Sig": [significance(v) for v in p]})
        else:
            cols.update({"T-stat": t})
        return pl.DataFrame(cols)

    # ----------------------------------------------------------- results
    @property
    def deviance(self) -> float:
        """-2 log-likelihood (ML fits) or the REML criterion."""
        self._check_fitted()
        return float(self._fit.objective)

    def objective_at(self, theta: Sequence[float]) -> float:
        """The profiled criterion (REML criterion or deviance, as fitted) at
        another ``theta``; the fit is unchanged."""
        self._check_fitted()
        return float(self._fit.objective_at([float(t) for t in theta]))

    @property
    def vcov_kenward_roger(self) -> np.ndarray:
        """Kenward-Roger's adjusted covariance of the fixed effects (REML fits;
        pbkrtest's ``vcovAdj``), computed once by the core."""
        self._check_fitted()
        if not self.REML:
            raise DataError("Kenward-Roger's method is only available for REML fits; refit with REML=True")
        if self.vcov_kr is None:
            self.vcov_kr = np.asarray(self._fit.kenward_roger()[0])
        return self.vcov_kr

    def summary_text(self) -> str:
        """lmerTest's summary, as text."""
        self._check_fitted()
        return lmer_summary(self)

    # ---------------------------------------------------------- inference
    def anova(self, type: int | str = 3, ddf: str = "Satterthwaite", force_orthogonal: bool = False) -> pl.DataFrame:
        """lmerTest's anova(): an F test for each fixed-effects term, Type I,
        II or III, with Satterthwaite or Kenward-Roger denominator df.
        ``force_orthogonal`` (pymer4) refits with polynomial contrasts for
        every factor first; lmerTest's tables do not depend on the coding, so
        it changes the coefficients, not the table."""
        self._check_fitted()
        if force_orthogonal:
            self._refit_orthogonal()
        return anova_table.anova_table(self, type=type, ddf=ddf)

    def _refit_orthogonal(self) -> None:
        """pymer4's ``force_orthogonal``: the previous factors are kept in ``factors_prev_``."""
        self.factors_prev_ = dict(self.factors) if self.factors else None
        self.contrast_codes_prev_ = dict(self.contrast_codes) if self.contrast_codes else None
        opts = dict(self.fit_options)
        opts["factors"] = self.factors  # level orders only: contrast weights give way to poly
        factor_vars = {v for t in self.fixed_terms for v, num in zip(t.variables, t.numeric, strict=True) if not num}
        contrasts = dict(opts.get("contrasts") or {})
        contrasts.update({v: "poly" for v in factor_vars if v not in contrasts})
        opts["contrasts"] = contrasts
        self.fit(REML=self.REML, summarize=False, no_warnings=True, **opts)

    def contest(
        self,
        L: Any,
        rhs: float | Sequence[float] = 0.0,
        ddf: str = "Satterthwaite",
        joint: bool | None = None,
        level: float = 0.95,
    ) -> pl.DataFrame:
        """lmerTest's ``contest()``: tests of ``L @ beta = rhs`` (see
        :func:`mixedmodels.contest.contest`)."""
        self._check_fitted()
        return contest.contest(self, L, rhs=rhs, ddf=ddf, joint=joint, level=level)

    def ranova(self, reduce_terms: bool = True) -> pl.DataFrame:
        """lmerTest's ranova(): a likelihood-ratio test for each random-effects
        term (slopes reduced to intercepts, intercepts removed)."""
        self._check_fitted()
        return compare.ranova(self, reduce_terms=reduce_terms)

    def drop1(self, ddf: str = "Satterthwaite", scope: Sequence[str] | None = None) -> pl.DataFrame:
        """lmerTest's ``drop1``: an F test for each fixed term that can be
        dropped while respecting marginality (no other term contains it),
        with Satterthwaite's or Kenward-Roger's df; nothing is refitted.
        Columns as :meth:`anova`. See :func:`mixedmodels.drop1.drop1`."""
        self._check_fitted()
        return drop1_module.drop1(self, ddf=ddf, scope=scope)

    def step(
        self,
        alpha_random: float = 0.1,
        alpha_fixed: float = 0.05,
        reduce_random: bool = True,
        reduce_fixed: bool = True,
        ddf: str = "Satterthwaite",
        keep: Sequence[str] = (),
    ) -> step_module.StepResult:
        """lmerTest's ``step``: backward elimination of the random-effect
        terms (likelihood-ratio tests of :meth:`ranova`, p > ``alpha_random``
        removed first the largest), then of the fixed terms (F tests of
        :meth:`drop1`, p > ``alpha_fixed``). Returns a
        :class:`~mixedmodels.step.StepResult` with the ``random`` and
        ``fixed`` elimination tables and the final ``model``."""
        self._check_fitted()
        return step_module.step(
            self,
            ddf=ddf,
            alpha_random=alpha_random,
            alpha_fixed=alpha_fixed,
            reduce_random=reduce_random,
            reduce_fixed=reduce_fixed,
            keep=keep,
        )

    def profile(self, level: float = 0.95) -> pl.DataFrame:
        """The likelihood profiles behind ``confint(method="profile")`` (lme4's
        ``profile(m)``): ``term, value, zeta``; see
        :func:`mixedmodels.intervals.profile` and :meth:`plot_profile`."""
        self._check_fitted()
        return intervals.profile(self, level=level)

    def plot_profile(self, level: float = 0.95, wald: bool = True, ax: Any = None) -> Any:
        """The zeta trace of every parameter's likelihood profile with its
        profile interval's ends and, for the fixed effects, the Wald line, as
        lme4's ``xyplot(profile(m))``; returns the Figure (see
        :func:`mixedmodels.plots.plot_profile`)."""
        self._check_fitted()
        return plots.plot_profile(self, level=level, wald=wald, ax=ax)

    # ------------------------------------------------------- residuals
    def hlm_resid(self, level: int | str = 1, standardize: bool | str = False, include_ls: bool = True) -> pl.DataFrame:
        """HLMdiag's residual tables: conditional, least-squares and marginal
        residuals of each observation (``level=1``), or the random effects and
        least-squares group effects of each level of a grouping factor. See
        :func:`mixedmodels.diagnostics.hlm_resid`."""
        return diagnostics.hlm_resid(self, level=level, standardize=standardize, include_ls=include_ls)

    def hlm_augment(self, level: int | str = 1, include_ls: bool = True, approx: bool = True) -> pl.DataFrame:
        """HLMdiag's ``hlm_augment``: :meth:`hlm_resid` and :meth:`influence` joined."""
        return diagnostics.hlm_augment(self, level=level, include_ls=include_ls, approx=approx)

    def plot_hlm_resid(
        self, level: int | str = 1, kind: str = "conditional", standardize: bool | str = False, ax: Any = None
    ) -> Any:
        """Residuals against fitted values and a normal QQ plot (or QQ plots of
        the random effects of a grouping factor), matplotlib; returns the
        Figure. See :func:`mixedmodels.plots.plot_hlm_resid`."""
        return plots.plot_hlm_resid(self, level=level, kind=kind, standardize=standardize, ax=ax)
