"""Generalized linear mixed models (lme4's ``glmer``): ``Lmer(formula, data,
family="binomial")`` returns a :class:`Glmer`, fitted in Rust by PIRLS with the
Laplace approximation or, for one scalar random effect, adaptive
Gauss-Hermite quadrature (``fit(nAGQ=k)``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl
from scipy.special import expit

from mixedmodels import _core
from mixedmodels._args import whole_number
from mixedmodels._stats import significance, wald_interval, z_pvalues
from mixedmodels.exceptions import DataError, NumericalError
from mixedmodels.lmer import Lmer, Residuals, _coef_tables, _ranef_tables, _varcorr_tables

FAMILIES = {
    "binomial": "binomial",
    "poisson": "poisson",
    "gamma": "Gamma",
    "inverse_gaussian": "inverse.gaussian",
    "inverse.gaussian": "inverse.gaussian",
}


class Glmer(Lmer):
    """A generalized linear mixed model: ``Lmer(formula, data, family=...)``
    with family ``binomial`` (logit, probit or cloglog link), ``poisson``,
    ``gamma`` or ``inverse_gaussian``."""

    def __init__(self, formula: str, data: Any, family: str = "binomial", link: str | None = None) -> None:
        key = str(family).lower()
        if key not in FAMILIES:
            raise DataError(f"unknown family '{family}' (use gaussian, binomial, poisson, gamma or inverse_gaussian)")
        super().__init__(formula, data, family="gaussian")
        self.family = key
        self.link = link
        self.nAGQ = 1

    def fit(  # type: ignore[override]
        self,
        conf_int: str = "Wald",
        n_boot: int = 500,
        factors: Mapping[str, Any] | None = None,
        ordered: bool = False,
        REML: bool = False,
        summarize: bool = True,
        verbose: bool = False,
        no_warnings: bool = False,
        weights: str | Sequence[float] | np.ndarray | None = None,
        contrasts: Mapping[str, Any] | None = None,
        nAGQ: int = 1,
        link: str | None = None,
        max_feval: int = 10_000,
        **ignored: Any,
    ) -> pl.DataFrame:
        """Fit by maximum likelihood: the Laplace approximation (``nAGQ=1``) or
        adaptive Gauss-Hermite quadrature with ``nAGQ`` nodes (one scalar
        random effect only). ``weights`` are prior weights (for a binomial
        proportion: the number of trials). Returns ``coefs`` (with odds
        ratios for the logit link)."""
        if conf_int != "Wald":
            raise DataError("only Wald intervals are available for generalized linear mixed models")
        # 1 is the Laplace approximation; lme4's Gauss-Hermite rules stop at 100 points.
        nAGQ = whole_number(nAGQ, "nAGQ", minimum=1, maximum=_core.MAX_AGQ_POINTS)
        max_feval = whole_number(max_feval, "max_feval", minimum=1)
        link = link or self.link
        columns, weight_name, core_contrasts = self._prepare(factors, ordered, weights, contrasts)
        try:
            self._fit = _core.GlmerFit.fit(
                self.formula,
                columns,
                FAMILIES[self.family],
                link=link,
                nagq=int(nAGQ),
                weights=weight_name,
                contrasts=core_contrasts,
                max_feval=max_feval,
            )
        except NumericalError as e:
            if "not positive definite" not in str(e):
                raise
            raise NumericalError(
                f"{e}: the penalized iteratively reweighted least squares failed, which usually means that "
                "a predictor separates the response completely (fitted means of exactly 0 or 1; "
                "lme4 fits such data with enormous estimates and standard errors and warns that the Hessian "
                "is singular); drop or merge the separating predictor or its levels"
            ) from e
        self.REML = False
        self.ddf = "asymptotic"
        self.nAGQ = int(nAGQ)
        self.link = self._fit.link
        self._fit_options = {
            "factors": factors,
            "ordered": ordered,
            "weights": weights,
            "contrasts": contrasts,
            "max_feval": max_feval,
            "nAGQ": int(nAGQ),
            "link": link,
        }
        return self._finish_fit(conf_int, n_boot, summarize, verbose, no_warnings)

    def _collect_results(self) -> None:
        f = self._fit
        names = list(f.fixed_names)
        beta = np.asarray(f.beta)
        se = np.sqrt(np.diag(np.asarray(f.vcov)))
        lo, hi = wald_interval(beta, se)
        z = beta / se
        p = z_pvalues(z)
        cols: dict[str, Any] = {
            "term": names,
            "Estimate": beta,
            "2.5_ci": lo,
            "97.5_ci": hi,
            "SE": se,
            "Z-stat": z,
            "P-val": p,
            "Sig": [significance(v) for v in p],
        }
        if self.link == "logit":
            # pymer4's odds ratios and probabilities for the logit link (inf, not an overflow
            # warning, for the enormous estimates of a separated fit)
            with np.errstate(over="ignore"):
                cols.update(
                    {
                        "OR": np.exp(beta),
                        "OR_2.5_ci": np.exp(lo),
                        "OR_97.5_ci": np.exp(hi),
                        "Prob": expit(beta),
                        "Prob_2.5_ci": expit(lo),
                        "Prob_97.5_ci": expit(hi),
                    }
                )
        self.coefs = pl.DataFrame(cols)
        self.theta = np.asarray(f.theta)
        self.sigma = float(f.sigma)
        self.singular = bool(f.singular)
        self.logLike = float(f.loglik)
        self.AIC = float(f.aic)
        self.BIC = float(f.bic)
        self.fits = np.asarray(f.fitted)
        self.residuals = Residuals(np.asarray(f.residuals("deviance")), self._residuals_of)
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
        if not f.has_scale:
            self.ranef_var = self.ranef_var.filter(pl.col("group") != "Residual")

    def _residuals_of(self, type: str = "deviance") -> np.ndarray:
        return np.asarray(self._fit.residuals(type))

    @property
    def deviance(self) -> float:
        """lme4's ``deviance()`` for a GLMM: the sum of squared deviance residuals."""
        self._check_fitted()
        return float(self._fit.deviance)

    @property
    def linear_predictor(self) -> np.ndarray:
        self._check_fitted()
        return np.asarray(self._fit.linear_predictor)

    @property
    def logLike_lme4(self) -> float:
        """The log-likelihood on the scale lme4 1.1-31 reports: with nAGQ > 1
        lme4 builds its quadrature from deviance residuals, which drops the
        saturated model's log-likelihood (cbpp: -50.0 against the Laplace
        -92.0); ``logLike`` keeps the full log-likelihood, comparable across
        nAGQ. Equal to ``logLike`` for the Laplace approximation."""
        self._check_fitted()
        return -float(self._fit.objective_lme4) / 2

    def summary_text(self) -> str:
        self._check_fitted()
        from mixedmodels._summary import glmer_summary

        return glmer_summary(self)

    def _predict_complete_rows(self, columns: Any, use_rfx: bool, pred_type: str) -> np.ndarray:
        """Predictions on the response (``pred_type="response"``) or link
        scale; `Lmer.predict` handles unseen groups and missing values."""
        return np.asarray(self._fit.predict(columns, use_rfx, pred_type == "response"))

    def confint(
        self,
        method: str = "Wald",
        level: float = 0.95,
        n_boot: int = 500,  # type: ignore[override]
        seed: int | None = None,
        progress: bool | None = None,
    ) -> pl.DataFrame:
        """Wald intervals for the fixed effects (profile and bootstrap
        intervals are available for linear mixed models)."""
        self._check_fitted()
        if method != "Wald":
            raise DataError("only Wald intervals are available for generalized linear mixed models")
        from scipy import stats

        beta = self.coefs["Estimate"].to_numpy()
        se = self.coefs["SE"].to_numpy()
        zq = stats.norm.ppf(0.5 + level / 2)
        names = [*self._fit.sd_cor_names(), *self._fit.fixed_names]
        nvar = len(names) - len(beta)
        return pl.DataFrame(
            {
                "term": names,
                "lower": [None] * nvar + list(beta - zq * se),
                "upper": [None] * nvar + list(beta + zq * se),
            },
            schema={"term": pl.String, "lower": pl.Float64, "upper": pl.Float64},
        )

    def anova(
        self,
        type: int | str = 3,
        ddf: str = "Satterthwaite",  # type: ignore[override]
        force_orthogonal: bool = False,
    ) -> pl.DataFrame:
        raise DataError("F tables are for linear mixed models; compare GLMMs with mixedmodels.anova(m0, m1)")

    def ranova(self, reduce_terms: bool = True) -> pl.DataFrame:  # type: ignore[override]
        raise DataError("ranova() is for linear mixed models; compare GLMMs with mixedmodels.anova(m0, m1)")

    def post_hoc(
        self,
        marginal_vars: str | Sequence[str],  # type: ignore[override]
        grouping_vars: str | Sequence[str] | None = None,
        p_adjust: str = "tukey",
        summarize: bool = True,
        level: float = 0.95,
        trend: str | None = None,
        contrasts: str = "pairwise",
        type: str = "link",
    ) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Estimated marginal means and their contrasts as emmeans computes them
        for a glmer fit: asymptotic z tests (DF infinite) on the link scale
        (``type="link"``), or means back-transformed to the response scale with
        delta-method SEs (``type="response"``; for the log and logit links the
        pairwise contrasts become ratios ``A / B``: rate or odds ratios).
        Returns ``(marginal_estimates, marginal_contrasts)``; see
        :meth:`Lmer.post_hoc` for the other arguments."""
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
            type=type,
        )

    def bootstrap(
        self,
        n_boot: int = 500,
        seed: int | None = None,  # type: ignore[override]
        progress: bool | None = None,
    ) -> pl.DataFrame:
        raise DataError("the parametric bootstrap is available for linear mixed models")

    def __repr__(self) -> str:
        state = "fitted" if self.fitted else "not fitted"
        return f"Lmer({self.formula!r}, family={self.family!r}) [{state}]"
