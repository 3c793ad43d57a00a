"""``Lmer``: linear mixed-effects models with lme4's formula syntax, fitted by
the Rust core, results as polars DataFrames (the pymer4 API, without R)."""

from __future__ import annotations

import warnings as _warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl
from scipy import stats

from mixedmodels import _core
from mixedmodels._args import check_fits_in_memory, seed_value, whole_number
from mixedmodels._frame import check_columns, column_names_of, core_frame, missing_rows, to_polars
from mixedmodels._stats import significance, t_pvalues, wald_interval
from mixedmodels.exceptions import DataError

WEIGHTS_COLUMN = "(weights)"


class Lmer:
    """A linear mixed model ``Lmer(formula, data)``.

    ``formula`` uses lme4's syntax (``"Reaction ~ Days + (Days | Subject)"``);
    ``data`` is a polars DataFrame or LazyFrame, a pandas DataFrame or a
    pyarrow Table. Call :meth:`fit`, then read the results (``coefs``,
    ``ranef``, ``ranef_var``, ...), all polars DataFrames.
    """

    def __new__(cls, formula: str = "", data: Any = None, family: str = "gaussian", *args: Any, **kwargs: Any) -> Lmer:
        # pymer4's Lmer fits GLMMs too: a non-Gaussian family makes a Glmer.
        if cls is Lmer and str(family).lower() != "gaussian":
            from mixedmodels.glmer import Glmer

            return super().__new__(Glmer)
        return super().__new__(cls)

    def __init__(self, formula: str, data: Any, family: str = "gaussian") -> None:
        self.formula = formula
        self.family = family
        self._columns = list(_core.formula_columns(formula, data_columns=column_names_of(data)))
        self.data = to_polars(data, columns=self._columns)
        self.fitted = False
        self._fit: Any = None
        self.coefs: pl.DataFrame | None = None
        self.fixef: dict[str, pl.DataFrame] | None = None
        self.ranef: dict[str, pl.DataFrame] | None = None
        self.ranef_var: pl.DataFrame | None = None
        self.ranef_corr: pl.DataFrame | None = None
        self.fits: np.ndarray | None = None
        self.residuals: np.ndarray | None = None
        self.logLike: float | None = None
        self.AIC: float | None = None
        self.BIC: float | None = None
        self.grps: dict[str, int] | None = None
        self.design_matrix: pl.DataFrame | None = None
        self.warnings: list[str] = []
        self.theta: np.ndarray | None = None
        self.sigma: float | None = None
        self.singular: bool | None = None
        self.factors: dict[str, list[str]] | None = None
        self.contrast_codes: dict[str, np.ndarray] | None = None
        self.ordered = False
        self.REML = True

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        conf_int: str = "Wald",
        n_boot: int = 500,
        factors: Mapping[str, Any] | None = None,
        ordered: bool = False,
        REML: bool = True,
        summarize: bool = True,
        verbose: bool = False,
        no_warnings: bool = False,
        weights: str | Sequence[float] | np.ndarray | None = None,
        contrasts: Mapping[str, Any] | None = None,
        ddf: str = "Satterthwaite",
        max_feval: int = 10_000,
        seed: int | None = None,
    ) -> pl.DataFrame:
        """Fit the model; print lmerTest's summary when ``summarize``; return ``coefs``.

        ``factors`` maps a column to its level order (the first level is the
        reference of treatment coding); with ``ordered=True`` those factors get
        orthogonal polynomial contrasts. A column may instead map to a dict of
        contrast weights by level (``{"A": -1, "B": 0.5, "C": 0.5}``) or a list
        of such dicts: the dict's keys order the levels and the weights are
        converted as pymer4's ``con2R`` and R's ``contrasts<-`` do (see
        :func:`contrasts_from_weights`). ``weights`` is a column name or an
        array of prior weights. ``contrasts`` maps a variable to ``"treatment"``,
        ``"sum"``, ``"helmert"``, ``"poly"`` or a levels x k matrix.
        ``conf_int="boot"`` fills the coefs' intervals from ``n_boot``
        parametric bootstrap refits, reproducible for a given ``seed``.
        """
        if ddf not in ("Satterthwaite", "Kenward-Roger", "lme4"):
            raise DataError(f"ddf must be 'Satterthwaite', 'Kenward-Roger' or 'lme4', not '{ddf}'")
        if ddf == "Kenward-Roger" and not REML:
            raise DataError("Kenward-Roger's method is only available for REML fits (REML=True)")
        if conf_int not in ("Wald", "profile", "boot"):
            raise DataError(f"conf_int must be 'Wald', 'profile' or 'boot', not '{conf_int}'")
        max_feval = whole_number(max_feval, "max_feval", minimum=1)
        columns, weight_name, core_contrasts = self._prepare(factors, ordered, weights, contrasts)
        self._fit = _core.LmerFit.fit(
            self.formula,
            columns,
            reml=REML,
            weights=weight_name,
            contrasts=core_contrasts,
            derivatives=ddf != "lme4",
            max_feval=max_feval,
        )
        self.REML = REML
        self.ddf = ddf
        self._fit_options = {
            "factors": factors,
            "ordered": ordered,
            "weights": weights,
            "contrasts": contrasts,
            "max_feval": max_feval,
            "ddf": ddf,
        }
        return self._finish_fit(conf_int, n_boot, summarize, verbose, no_warnings, seed=seed)

    def _prepare(
        self, factors: Mapping[str, Any] | None, ordered: bool, weights: Any, contrasts: Mapping[str, Any] | None
    ) -> tuple[list[Any], str | None, list[tuple[str, Any]]]:
        """Level orders, contrast codes and weights applied to the data; the
        columns for the core. Records what a refit or a prediction needs."""
        levels, contrast_codes = _split_factors(factors)
        clash = sorted(set(contrast_codes) & set(contrasts or {}))
        if clash:
            raise DataError(f"factors gives contrast weights for {clash}: leave them out of contrasts=")
        for col in contrast_codes:
            _check_weight_levels(self.data, col, levels[col])
        frame, _ = self._apply_factors(self.data, levels, False)
        ordered_cols = [c for c in levels if c not in contrast_codes] if ordered else []
        names = list(self._columns)
        weight_name = None
        if weights is not None:
            frame, weight_name = _attach_weights(frame, weights)
            names.append(weight_name)
        self._weights_name = weight_name
        columns = core_frame(frame, names, ordered=ordered_cols)
        core_contrasts = _contrasts_for_core({**(contrasts or {}), **contrast_codes})
        self._contrasts = core_contrasts
        self._ordered_cols = ordered_cols
        self._frame = frame
        self.factors = levels or None
        self.contrast_codes = contrast_codes or None
        self.ordered = ordered
        return columns, weight_name, core_contrasts

    def _finish_fit(
        self, conf_int: str, n_boot: int, summarize: bool, verbose: bool, no_warnings: bool, seed: int | None = None
    ) -> pl.DataFrame:
        self.fitted = True
        self._collect_results()
        self.warnings += self._unused_contrasts()
        if conf_int != "Wald":
            self._intervals_from(conf_int, n_boot, seed)
        if self.warnings and not no_warnings:
            for w in self.warnings:
                _warnings.warn(w, stacklevel=3)
        if verbose:
            print(self._fit.optsummary())
        if summarize:
            print(self.summary_text())
        assert self.coefs is not None
        return self.coefs

    def _formula_columns(self, response: bool = True, groups: bool = True, formula: str | None = None) -> list[str]:
        """The data columns the model's formula (or ``formula``) reads; a data
        column named like an R constant (``F``, ``T``, ``pi``) is one of them, as in R."""
        formula = self.formula if formula is None else formula
        return list(_core.formula_columns(formula, response, groups, data_columns=self.data.columns))

    def _unused_contrasts(self) -> list[str]:
        """R's warning for contrasts= naming no factor of the model."""
        used = {v for t in self._fit.term_info() for v in t["variables"]}
        return [
            f"contrasts: variable '{name}' is not a factor of the fixed effects; its contrast is ignored"
            for name, _ in self._contrasts
            if name not in used
        ]

    @staticmethod
    def _apply_factors(
        frame: pl.DataFrame, factors: Mapping[str, Sequence[str]] | None, ordered: bool
    ) -> tuple[pl.DataFrame, list[str]]:
        if not factors:
            return frame, []
        exprs = []
        for col, levels in factors.items():
            if col not in frame.columns:
                raise DataError(f"factors: column '{col}' is not in the data")
            levels = [str(v) for v in levels]
            exprs.append(pl.col(col).cast(pl.String).replace_strict(levels, levels, default=None).cast(pl.Enum(levels)))
        return frame.with_columns(exprs), list(factors) if ordered else []

    def _collect_results(self) -> None:
        f = self._fit
        names = list(f.fixed_names)
        beta = np.asarray(f.beta)
        se = np.sqrt(np.diag(np.asarray(f.vcov)))
        df = np.asarray(f.df) if f.df is not None else None
        self.vcov_kr = None
        if self.ddf == "Kenward-Roger":
            vcov_kr, df_kr = f.kenward_roger()
            self.vcov_kr = np.asarray(vcov_kr)
            se, df = np.sqrt(np.diag(self.vcov_kr)), np.asarray(df_kr)
        lo, hi = wald_interval(beta, se)
        cols: dict[str, Any] = {"term": names, "Estimate": beta, "2.5_ci": lo, "97.5_ci": hi, "SE": se}
        t = beta / se
        if df is not None:
            p = t_pvalues(t, df)
            cols.update({"DF": df, "T-stat": t, "P-val": p, "Sig": [significance(v) for v in p]})
        else:
            cols.update({"T-stat": t})
        self.coefs = pl.DataFrame(cols)
        self.theta = np.asarray(f.theta)
        self.sigma = float(f.sigma)
        self.singular = bool(f.singular)
        self.logLike = float(f.loglik)
        self.AIC = float(f.aic)
        self.BIC = float(f.bic)
        self.fits = np.asarray(f.fitted)
        self.residuals = Residuals(np.asarray(f.residuals("response")), self._residuals_of)
        self.warnings = list(f.warnings)
        self.design_matrix = pl.DataFrame(np.asarray(f.design_matrix), schema=names, orient="row")
        terms = f.terms()
        self._terms = terms
        self.grps = {}
        for t_ in terms:
            self.grps.setdefault(t_["group"], len(t_["levels"]))
        self.ranef = _ranef_tables(terms)
        self.fixef = _coef_tables(terms, names, beta)
        self.ranef_var, self.ranef_corr = _varcorr_tables(terms, self.sigma)

    def _residuals_of(self, type: str = "response") -> np.ndarray:
        """lme4's residuals(type=): response and working (y - fitted), pearson
        and deviance (scaled by the square roots of the prior weights)."""
        return np.asarray(self._fit.residuals(type))

    # ------------------------------------------------ the rows of the fit
    @property
    def fit_rows(self) -> np.ndarray:
        """The position in ``data`` of each row the fit used (rows with a
        missing value in a column the model reads are left out, as R's na.omit)."""
        self._check_fitted()
        return np.asarray(self._fit.fit_rows)

    @property
    def fit_mask(self) -> np.ndarray:
        """One boolean a row of ``data``: did the fit use it?"""
        self._check_fitted()
        return np.asarray(self._fit.fit_mask)

    @property
    def fit_frame(self) -> pl.DataFrame:
        """The rows of the data the fit used, as the fit read them (level
        orders of ``fit(factors=...)`` applied, an array of weights attached)."""
        return self._frame[self.fit_rows]

    @property
    def prior_weights(self) -> np.ndarray:
        """The prior weights of the rows of the fit (ones when unweighted)."""
        self._check_fitted()
        return np.asarray(self._fit.prior_weights)

    @property
    def offset(self) -> np.ndarray:
        """The formula's offsets on the rows of the fit (zeros without ``offset()``)."""
        self._check_fitted()
        return np.asarray(self._fit.offset)

    def complete_rows(self, columns: Sequence[str]) -> np.ndarray:
        """One boolean a row of ``data``: no missing value in ``columns`` nor in
        the prior weights; the rows a fit of a formula reading these columns
        would use (R's na.omit)."""
        self._check_fitted()
        names = [*columns, *([self._weights_name] if self._weights_name else [])]
        return ~missing_rows(self._frame, names)

    def _intervals_from(self, method: str, n_boot: int, seed: int | None = None) -> None:
        """Fill the coefs' interval columns from profile or bootstrap intervals."""
        ci = self.confint(method=method, n_boot=n_boot, seed=seed)
        fixed = ci.filter(pl.col("term").is_in(self.coefs["term"].to_list()))
        self.coefs = self.coefs.with_columns(
            pl.Series("2.5_ci", fixed["lower"].to_numpy()), pl.Series("97.5_ci", fixed["upper"].to_numpy())
        )

    # ----------------------------------------------------------- results
    def confint(
        self,
        method: str = "Wald",
        level: float = 0.95,
        n_boot: int = 500,
        seed: int | None = None,
        progress: bool | None = None,
    ) -> pl.DataFrame:
        """Confidence intervals (`term, lower, upper`) for the sd/cor parameters,
        `sigma` and the fixed effects: ``"Wald"``, ``"profile"`` (likelihood
        profile; lme4 profiles the ML deviance even for REML fits, and so do
        we) or ``"boot"`` (parametric bootstrap percentiles, ``n_boot`` refits)."""
        self._check_fitted()
        from mixedmodels.intervals import confint

        return confint(self, method=method, level=level, n_boot=n_boot, seed=seed, progress=progress)

    def anova(self, type: int | str = 3, ddf: str = "Satterthwaite", force_orthogonal: bool = False) -> pl.DataFrame:
        """lmerTest's anova(): an F test for each fixed-effects term, Type I,
        II or III, with Satterthwaite or Kenward-Roger denominator df.
        ``force_orthogonal`` (pymer4) refits with polynomial contrasts for
        every factor first; lmerTest's tables do not depend on the coding, so
        it changes the coefficients, not the table."""
        self._check_fitted()
        if force_orthogonal:
            self._refit_orthogonal()
        from mixedmodels.anova_table import anova_table

        return anova_table(self, type=type, ddf=ddf)

    def contest(
        self,
        L: Any,
        rhs: float | Sequence[float] = 0.0,
        ddf: str = "Satterthwaite",
        joint: bool | None = None,
        level: float = 0.95,
    ) -> pl.DataFrame:
        """lmerTest's ``contest()``: tests of ``L @ beta = rhs`` for a contrast
        matrix ``L`` (one row a contrast, one column a fixed effect, in the
        order of ``coefs``; a 1-D ``L`` is one contrast).

        One contrast gives lmerTest's t test (``contest1D``: ``Estimate``
        (= L beta), the Wald interval at ``level`` with the contrast's df,
        ``SE``, ``DF``, ``T-stat`` = (Estimate - rhs) / SE, ``P-val``, ``Sig``);
        several give the joint F test (``contestMD``: ``SS, MS, NumDF,
        DenomDF, F-stat, P-val, Sig``; NumDF is the rank of ``L``).
        ``joint=False`` tests each row on its own, ``joint=True`` makes one
        row an F test. ``ddf`` is ``"Satterthwaite"`` or ``"Kenward-Roger"``
        (REML fits: the Kenward-Roger covariance and df, pbkrtest's scaled F).
        """
        self._check_fitted()
        if not hasattr(self._fit, "contrast_f"):
            raise DataError("contest() is for linear mixed models")
        method = _CONTEST_DDF.get(str(ddf).lower())
        if method is None:
            raise DataError(f"ddf must be 'Satterthwaite' or 'Kenward-Roger', not {ddf!r}")
        if method == "Satterthwaite" and getattr(self, "ddf", "") == "lme4":
            raise DataError(
                "contest(ddf='Satterthwaite') needs the derivatives of a fit with "
                "ddf='Satterthwaite' (or 'Kenward-Roger'); refit without ddf='lme4'"
            )
        if method == "Kenward-Roger" and not self.REML:
            raise DataError("Kenward-Roger's method is only available for REML fits; refit with REML=True")
        if not 0 < level < 1:
            raise DataError(f"level must be between 0 and 1, not {level}")
        Lm = self._contrast_matrix(L)
        r = np.asarray(rhs, dtype=float).ravel()
        if r.size not in (1, Lm.shape[0]) or not np.all(np.isfinite(r)):
            raise DataError(f"rhs must be one finite number or one a row of L ({Lm.shape[0]}), got {r.size}")
        r = np.broadcast_to(r, (Lm.shape[0],))
        vcov = self._kr_vcov() if method == "Kenward-Roger" else self.vcov
        if joint if joint is not None else Lm.shape[0] > 1:
            return self._contest_f(Lm, r, method, vcov)
        return pl.concat([self._contest_t(row, float(v), method, vcov, level) for row, v in zip(Lm, r, strict=True)])

    def _contrast_matrix(self, L: Any) -> np.ndarray:
        names = list(self._fit.fixed_names)
        try:
            Lm = np.asarray(L, dtype=float)
        except (TypeError, ValueError) as e:
            raise DataError(f"L must be numbers: a contrast (1-D) or one contrast a row (2-D): {e}") from None
        if Lm.ndim == 1:
            Lm = Lm[None, :]
        if Lm.ndim != 2 or Lm.shape[0] == 0 or Lm.shape[1] != len(names):
            raise DataError(
                f"L must have {len(names)} columns, one a coefficient ({', '.join(names)}), "
                f"and at least one row; got shape {np.shape(L)}"
            )
        if not np.all(np.isfinite(Lm)):
            raise DataError("L has missing or infinite values")
        return Lm

    def _kr_vcov(self) -> np.ndarray:
        """Kenward-Roger's adjusted covariance of the fixed effects."""
        if getattr(self, "vcov_kr", None) is not None:
            return np.asarray(self.vcov_kr)
        return np.asarray(self._fit.kenward_roger()[0])

    def _contest_t(self, row: np.ndarray, rhs: float, method: str, vcov: np.ndarray, level: float) -> pl.DataFrame:
        f = self._fit
        estimate = float(row @ np.asarray(f.beta))
        se = float(np.sqrt(max(float(row @ vcov @ row), 0.0)))
        rows = [[float(v) for v in row]]
        df = float(f.kr_f_test(rows)[2]) if method == "Kenward-Roger" else float(f.contrast_df(rows[0]))
        t = (estimate - rhs) / se if se > 0 else float("nan")
        p = float(t_pvalues(np.array([t]), np.array([df]))[0]) if np.isfinite(t) else float("nan")
        q = float(stats.t.ppf(0.5 + level / 2, df)) if np.isfinite(df) else float("nan")
        lo, hi = _ci_names(level)
        return pl.DataFrame(
            {
                "Estimate": [estimate],
                lo: [estimate - q * se],
                hi: [estimate + q * se],
                "SE": [se],
                "DF": [df],
                "T-stat": [t],
                "P-val": [p],
                "Sig": [significance(p)],
            },
            schema_overrides={c: pl.Float64 for c in ("Estimate", lo, hi, "SE", "DF", "T-stat", "P-val")},
        )

    def _contest_f(self, L: np.ndarray, rhs: np.ndarray, method: str, vcov: np.ndarray) -> pl.DataFrame:
        f = self._fit
        rows = [[float(v) for v in row] for row in L]
        sigma2 = float(f.sigma) ** 2
        if method == "Kenward-Roger":
            f_unscaled, ndf, ddf, scaling = f.kr_f_test(rows)
            if np.any(rhs != 0):
                f_unscaled = _wald_f(L, rhs, np.asarray(f.beta), vcov)
            ms, fval = f_unscaled * sigma2, f_unscaled * scaling
        else:
            fval, ndf, ddf = f.contrast_f(rows)
            if np.any(rhs != 0):
                fval = _wald_f(L, rhs, np.asarray(f.beta), vcov)
            ms = fval * sigma2
        p = float(stats.f.sf(fval, ndf, ddf)) if np.isfinite(fval) else float("nan")
        return pl.DataFrame(
            {
                "SS": [ms * ndf],
                "MS": [ms],
                "NumDF": [round(ndf)],
                "DenomDF": [float(ddf)],
                "F-stat": [float(fval)],
                "P-val": [p],
                "Sig": [significance(p)],
            },
            schema_overrides={"SS": pl.Float64, "MS": pl.Float64, "NumDF": pl.Int64},
        )

    def _refit_orthogonal(self) -> None:
        opts = dict(self._fit_options)
        opts["factors"] = self.factors  # level orders only: contrast weights give way to poly
        factor_vars = {
            v for t in self._fit.term_info() for v, num in zip(t["variables"], t["numeric"], strict=True) if not num
        }
        contrasts = dict(opts.get("contrasts") or {})
        contrasts.update({v: "poly" for v in factor_vars if v not in contrasts})
        opts["contrasts"] = contrasts
        self.fit(REML=self.REML, summarize=False, no_warnings=True, **opts)

    def post_hoc(
        self,
        marginal_vars: str | Sequence[str],
        grouping_vars: str | Sequence[str] | None = None,
        p_adjust: str = "tukey",
        summarize: bool = True,
        level: float = 0.95,
        trend: str | None = None,
        contrasts: str = "pairwise",
    ) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Estimated marginal means (or trends, with ``trend="x"``) and their
        pairwise contrasts, as emmeans computes them with Satterthwaite df:
        returns ``(marginal_estimates, marginal_contrasts)``. ``p_adjust``:
        tukey, bonf, holm, hochberg, hommel, fdr, sidak, dunnet, mvt, scheffe, none."""
        self._check_fitted()
        from mixedmodels.posthoc import post_hoc

        return post_hoc(
            self,
            marginal_vars,
            grouping_vars=grouping_vars,
            p_adjust=p_adjust,
            summarize=summarize,
            level=level,
            trend=trend,
            contrasts=contrasts,
        )

    def ranova(self, reduce_terms: bool = True) -> pl.DataFrame:
        """lmerTest's ranova(): a likelihood-ratio test for each random-effects
        term (slopes reduced to intercepts, intercepts removed)."""
        self._check_fitted()
        from mixedmodels.compare import ranova

        return ranova(self, reduce_terms=reduce_terms)

    def bootstrap(self, n_boot: int = 500, seed: int | None = None, progress: bool | None = None) -> pl.DataFrame:
        """Parametric bootstrap replicates (a row each: sd/cor parameters,
        `sigma`, fixed effects), refitted in parallel in Rust; reproducible
        for a given ``seed`` whatever the number of threads."""
        self._check_fitted()
        from mixedmodels.intervals import bootstrap

        return bootstrap(self, n_boot=n_boot, seed=seed, progress=progress)

    def _check_fitted(self) -> None:
        if not self.fitted:
            raise DataError("the model has not been fitted yet: call fit() first")

    def summary_text(self) -> str:
        """lmerTest's summary, as text."""
        self._check_fitted()
        from mixedmodels._summary import lmer_summary

        return lmer_summary(self)

    def summary(self) -> pl.DataFrame:
        """Print the summary and return ``coefs`` (pymer4's behaviour)."""
        print(self.summary_text())
        assert self.coefs is not None
        return self.coefs

    @property
    def nobs(self) -> int:
        self._check_fitted()
        return int(self._fit.nobs)

    @property
    def deviance(self) -> float:
        """-2 log-likelihood (ML fits) or the REML criterion."""
        self._check_fitted()
        return float(self._fit.objective)

    @property
    def vcov(self) -> np.ndarray:
        """Covariance of the fixed-effects estimates."""
        self._check_fitted()
        return np.asarray(self._fit.vcov)

    def objective_at(self, theta: Sequence[float]) -> float:
        """The profiled criterion (REML criterion or deviance, as fitted) at
        another ``theta``; the fit is unchanged."""
        self._check_fitted()
        return float(self._fit.objective_at([float(t) for t in theta]))

    @property
    def optsummary(self) -> dict[str, Any]:
        """The optimizer's record: evaluations, status, start and end."""
        self._check_fitted()
        return dict(self._fit.optsummary())

    def ranef_condvar(self) -> dict[str, np.ndarray]:
        """Conditional variances of the random effects: (levels, q, q) a term."""
        self._check_fitted()
        out = {}
        for t, v in zip(self._terms, self._fit.condvar(), strict=True):
            q = len(t["cnames"])
            key = t["group"] if t["group"] not in out else f"{t['group']}.{len(out)}"
            out[key] = np.asarray(v).reshape(len(t["levels"]), q, q)
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
        """Predictions for new data (unseen groups, and rows whose grouping
        factor is missing, get zero random effects). Rows with a missing
        value (null or NaN) in a column the prediction reads are NaN, as R's
        ``predict()`` gives NA for them."""
        self._check_fitted()
        if pred_type not in ("response", "link"):
            raise DataError("pred_type must be 'response' or 'link'")
        frame = to_polars(data)
        needed = self._formula_columns(response=False, groups=use_rfx)
        check_columns(frame.columns, needed)
        # Missing in the data given (a level outside fit(factors=...) stays an error).
        missing = missing_rows(frame, self._value_columns(use_rfx))
        if self.factors or self._ordered_cols:
            frame, _ = self._apply_factors(frame, self.factors, False)
        out = np.full(frame.height, np.nan)
        if missing.all():
            return out
        if missing.any():
            frame = frame.filter(pl.Series(~missing))
        columns = core_frame(frame, needed, ordered=self._ordered_cols)
        out[~missing] = self._predict_complete_rows(columns, use_rfx, pred_type)
        return out

    def _predict_complete_rows(self, columns: Any, use_rfx: bool, pred_type: str) -> np.ndarray:
        """The core's predictions for rows without missing values (a linear
        model's link is the identity: both scales are the same)."""
        return np.asarray(self._fit.predict(columns, use_rfx))

    def _value_columns(self, use_rfx: bool) -> list[str]:
        """The columns whose values enter a prediction (grouping factors
        aside): all of them with the random effects, else the fixed part's."""
        if use_rfx:
            return self._formula_columns(response=False, groups=False)
        structure = _core.formula_structure(self.formula)
        parts = [*structure["terms"], *(f"offset({o})" for o in structure["offsets"])]
        if not parts:
            return []
        return self._formula_columns(response=False, formula="~ " + " + ".join(parts))

    def simulate(
        self, num_datasets: int = 1, use_rfx: bool = True, seed: int | None = None, verbose: bool = False
    ) -> pl.DataFrame:
        """Simulated responses, one column a dataset. ``use_rfx=True`` keeps the
        estimated random effects; ``False`` draws new ones."""
        self._check_fitted()
        num_datasets = whole_number(num_datasets, "num_datasets", minimum=1)
        check_fits_in_memory(num_datasets * self._fit.nobs, f"simulate({num_datasets})")
        sims = np.asarray(self._fit.simulate(num_datasets, bool(use_rfx), seed_value(seed)))
        return pl.DataFrame({f"sim_{i + 1}": sims[:, i] for i in range(sims.shape[1])})

    def __repr__(self) -> str:
        state = "fitted" if self.fitted else "not fitted"
        return f"Lmer({self.formula!r}, family={self.family!r}) [{state}]"


# ---------------------------------------------------------------- helpers
_CONTEST_DDF = {
    "satterthwaite": "Satterthwaite",
    "kenward-roger": "Kenward-Roger",
    "kenward_roger": "Kenward-Roger",
    "kr": "Kenward-Roger",
}


def _ci_names(level: float) -> tuple[str, str]:
    a = (1 - level) / 2 * 100
    return f"{a:g}_ci", f"{100 - a:g}_ci"


def _wald_f(L: np.ndarray, rhs: np.ndarray, beta: np.ndarray, vcov: np.ndarray) -> float:
    """The F statistic of ``L beta = rhs`` as lmerTest's contestMD computes it:
    beta shifted by ``ginv(L) rhs``, on the eigenvectors of ``L V L'`` whose
    eigenvalues exceed sqrt(eps) times the largest."""
    shifted = beta - np.linalg.pinv(L) @ rhs
    d, P = np.linalg.eigh(L @ vcov @ L.T)
    order = np.argsort(d)[::-1]
    d, P = d[order], P[:, order]
    pos = d > max(np.sqrt(np.finfo(float).eps) * d[0], 0.0)
    PtL = P[:, pos].T @ L
    return float(np.sum((PtL @ shifted) ** 2 / d[pos]) / pos.sum())


class Residuals(np.ndarray):
    """An array of residuals that can also be called for another kind:
    ``model.residuals`` (the default kind) and ``model.residuals(type="pearson")``."""

    _of: Any

    def __new__(cls, values: np.ndarray, of: Any) -> Residuals:
        obj = np.asarray(values).view(cls)
        obj._of = of
        return obj

    def __array_finalize__(self, obj: Any) -> None:
        self._of = getattr(obj, "_of", None)

    def __call__(self, type: str = "response") -> np.ndarray:
        return np.asarray(self._of(type))


def _attach_weights(frame: pl.DataFrame, weights: Any) -> tuple[pl.DataFrame, str]:
    if isinstance(weights, str):
        if weights not in frame.columns:
            raise DataError(f"weights: column '{weights}' is not in the data")
        return frame, weights
    w = np.asarray(weights, dtype=float)
    if w.shape != (frame.height,):
        raise DataError(f"weights must have one value a row ({frame.height}), got shape {w.shape}")
    name = WEIGHTS_COLUMN
    while name in frame.columns:  # never overwrite a data column of that name
        name += "_"
    return frame.with_columns(pl.Series(name, w)), name


def contrasts_from_weights(weights: Any) -> np.ndarray:
    """R's contrast matrix (levels x levels-1) for human-readable contrast
    weights (one row a contrast, one column a level), as pymer4's ``con2R``
    and gmodels' ``make.contrasts``: the pseudo-inverse of the rows
    ``[1/k, ..., 1/k]`` stacked over the weights, first column dropped; with
    fewer than k-1 contrasts the matrix is completed as R's ``contrasts<-``
    does, with columns of the Q of the QR decomposition of
    ``cbind(1, given)``. The coefficient of column j then estimates the
    weighted sum of level means of row j (weights centred to sum to zero)."""
    w = np.atleast_2d(np.asarray(weights, dtype=float))
    if w.ndim != 2:
        raise DataError("contrast weights must be one row a contrast, one column a level")
    m, k = w.shape
    if m >= k:
        raise DataError(f"{m} contrast(s) for {k} levels: give at most {k - 1} (one row a contrast)")
    stacked = np.vstack([np.full(k, 1.0 / k), w])
    if np.linalg.matrix_rank(stacked) != m + 1:
        raise DataError("the contrast weights are collinear (or a row is constant): the contrasts are not estimable")
    given = np.linalg.pinv(stacked)[:, 1:]
    if m == k - 1:
        return given
    q, _ = np.linalg.qr(np.column_stack([np.ones(k), given]), mode="complete")
    out = q[:, 1:k].copy()
    out[:, :m] = given
    return out


def _split_factors(factors: Mapping[str, Any] | None) -> tuple[dict[str, list[str]], dict[str, np.ndarray]]:
    """``fit(factors=...)``: each column's level order, and the contrast
    matrix of the columns given as contrast weights (a dict or list of dicts)."""
    levels: dict[str, list[str]] = {}
    codes: dict[str, np.ndarray] = {}
    for col, spec in (factors or {}).items():
        if isinstance(spec, str):
            raise DataError(f"factors['{col}'] must be a list of levels or a dict of contrast weights, not a string")
        rows = [spec] if isinstance(spec, Mapping) else list(spec)
        n_dicts = sum(isinstance(r, Mapping) for r in rows)
        if n_dicts == 0:
            levels[col] = [str(v) for v in rows]
            repeated = sorted({lv for lv in levels[col] if levels[col].count(lv) > 1})
            if repeated:
                raise DataError(f"factors['{col}']: the level(s) {repeated} are listed more than once")
            continue
        if n_dicts != len(rows):
            raise DataError(f"factors['{col}']: a list must hold only levels or only dicts of contrast weights")
        weights = [{str(lv): float(v) for lv, v in r.items()} for r in rows]
        if not all(np.isfinite(v) for r in weights for v in r.values()):
            raise DataError(f"factors['{col}']: every contrast weight must be a finite number")
        lv = list(dict.fromkeys(name for r in weights for name in r))
        levels[col] = lv
        codes[col] = contrasts_from_weights([[r.get(name, 0.0) for name in lv] for r in weights])
    return levels, codes


def _check_weight_levels(frame: pl.DataFrame, col: str, levels: list[str]) -> None:
    """Contrast weights need one weight a level, for exactly the data's levels."""
    if col not in frame.columns:
        raise DataError(f"factors: column '{col}' is not in the data")
    present = set(frame.get_column(col).drop_nulls().cast(pl.String).unique().to_list())
    missing, unused = sorted(present - set(levels)), [lv for lv in levels if lv not in present]
    if missing:
        raise DataError(f"factors['{col}']: no contrast weight for the level(s) {missing}")
    if unused:
        raise DataError(f"factors['{col}']: the level(s) {unused} do not occur in the data")


def _contrasts_for_core(contrasts: Mapping[str, Any] | None) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for name, spec in (contrasts or {}).items():
        if isinstance(spec, str):
            out.append((name, spec))
        else:
            m = np.asarray(spec, dtype=float)
            if m.ndim != 2 or m.shape[1] == 0:
                raise DataError(f"contrasts['{name}'] must be a name or a levels x k matrix with k >= 1")
            if not np.isfinite(m).all():
                raise DataError(f"contrasts['{name}']: every entry of the matrix must be a finite number")
            out.append((name, (list(m.flatten(order="F")), int(m.shape[1]), None)))
    return out


def _ranef_tables(terms: list[dict[str, Any]]) -> dict[str, pl.DataFrame]:
    """Conditional modes by grouping factor (terms sharing a factor are merged)."""
    out: dict[str, pl.DataFrame] = {}
    for t in terms:
        b = np.asarray(t["ranef"])
        cols = {c: b[:, i] for i, c in enumerate(t["cnames"])}
        g = t["group"]
        if g in out:
            out[g] = out[g].with_columns(**{k: pl.Series(v) for k, v in cols.items()})
        else:
            out[g] = pl.DataFrame({"level": t["levels"], **cols})
    return out


def _coef_tables(terms: list[dict[str, Any]], names: list[str], beta: np.ndarray) -> dict[str, pl.DataFrame]:
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


def _varcorr_tables(terms: list[dict[str, Any]], sigma: float) -> tuple[pl.DataFrame, pl.DataFrame]:
    """lme4's VarCorr as two tables: variances and correlations."""
    seen: dict[str, int] = {}
    groups, names, var, sd = [], [], [], []
    c_groups, t1, t2, corr = [], [], [], []
    for t in terms:
        g = t["group"]
        label = g if g not in seen else f"{g}.{seen[g]}"
        seen[g] = seen.get(g, 0) + 1
        cov = np.asarray(t["covariance"])
        q = cov.shape[0]
        for i, c in enumerate(t["cnames"]):
            groups.append(label)
            names.append(c)
            var.append(cov[i, i])
            sd.append(np.sqrt(cov[i, i]))
        for j in range(q):
            for i in range(j + 1, q):
                c_groups.append(label)
                t1.append(t["cnames"][j])
                t2.append(t["cnames"][i])
                denom = np.sqrt(cov[i, i] * cov[j, j])
                corr.append(cov[i, j] / denom if denom > 0 else float("nan"))
    groups.append("Residual")
    names.append("")
    var.append(sigma**2)
    sd.append(sigma)
    ranef_var = pl.DataFrame({"group": groups, "name": names, "Var": var, "Std": sd})
    ranef_corr = pl.DataFrame(
        {"group": c_groups, "term1": t1, "term2": t2, "Corr": corr},
        schema={"group": pl.String, "term1": pl.String, "term2": pl.String, "Corr": pl.Float64},
    )
    return ranef_var, ranef_corr
