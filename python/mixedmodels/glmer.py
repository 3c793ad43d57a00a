"""Generalized linear mixed models (lme4's ``glmer``): ``Lmer(formula, data,
family="binomial")`` returns a :class:`Glmer`, fitted in Rust by PIRLS with the
Laplace approximation or, for one scalar random effect, adaptive
Gauss-Hermite quadrature (``fit(nAGQ=k)``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import polars as pl
from scipy.special import expit

from mixedmodels import _core
from mixedmodels._args import reject_keywords, whole_number
from mixedmodels._fitargs import permutations, summarize_alias
from mixedmodels._stats import significance, wald_interval, z_pvalues
from mixedmodels._summary import glmer_summary
from mixedmodels.control import control_from_fit
from mixedmodels.exceptions import DataError, NumericalError, UnavailableError
from mixedmodels.mixed import MixedModel
from mixedmodels.model import FittedModel

__all__ = ["FAMILIES", "Glmer"]

FAMILIES = {
    "binomial": "binomial",
    "poisson": "poisson",
    "gamma": "Gamma",
    "inverse_gaussian": "inverse.gaussian",
    "inverse.gaussian": "inverse.gaussian",
}


class Glmer(MixedModel):
    """A generalized linear mixed model: ``Lmer(formula, data, family=...)``
    with family ``binomial`` (logit, probit or cloglog link), ``poisson``,
    ``gamma`` or ``inverse_gaussian``."""

    is_generalized: ClassVar[bool] = True
    default_residuals: ClassVar[str] = "deviance"
    # What a linear mixed model has and a GLMM has not: asking for it says what to use instead.
    _UNAVAILABLE: ClassVar[dict[str, str]] = {
        "anova": "F tables are for linear mixed models; compare GLMMs with mixedmodels.anova(m0, m1)",
        "ranova": "ranova() is for linear mixed models; compare GLMMs with mixedmodels.anova(m0, m1)",
        "contest": "contest() is for linear mixed models; use post_hoc() for the contrasts of a GLMM",
        "bootstrap": "the parametric bootstrap is available for linear mixed models",
        "hlm_resid": "HLMdiag's residual tables are for linear mixed models; use residuals(type=...) of a GLMM",
        "hlm_augment": "HLMdiag's residual tables are for linear mixed models; use influence(approx=False)",
        "plot_residuals": "residual plots from hlm_resid() are for linear mixed models",
    }

    def __init__(self, formula: str, data: Any, family: str = "binomial", link: str | None = None) -> None:
        key = str(family).lower()
        if key not in FAMILIES:
            raise DataError(f"unknown family '{family}' (use gaussian, binomial, poisson, gamma or inverse_gaussian)")
        super().__init__(formula, data)
        if self.source is not None:
            raise DataError(
                f"a generalized linear mixed model revisits every row at each PIRLS iteration, so it is fitted in "
                f"memory only: collect the data (this is a {self.source.engine} source), or fit a linear model"
            )
        self.family = key
        self.link = link
        self.nAGQ = 1
        self.ddf = "asymptotic"

    def __getattr__(self, name: str) -> Any:
        message = type(self)._UNAVAILABLE.get(name)
        if message is None:
            raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")
        raise UnavailableError(message)

    def with_formula(self, formula: str | None = None) -> FittedModel:
        return type(self)(formula or self.formula, self.data, family=self.family, link=self.link)

    def fit(
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
        control: str | Mapping[str, Any] | None = None,
        old_optimizer: bool = False,
        permute: int | bool = False,
        **unsupported: Any,
    ) -> pl.DataFrame:
        """Fit by maximum likelihood: the Laplace approximation (``nAGQ=1``) or
        adaptive Gauss-Hermite quadrature with ``nAGQ`` nodes (one scalar
        random effect only). ``weights`` are prior weights (for a binomial
        proportion: the number of trials). ``REML`` is ignored (glmer has no
        REML). Returns ``coefs`` (with odds ratios for the logit link).
        ``control`` takes glmerControl's options (R text or a dict, see
        :mod:`mixedmodels.control`), applied to both optimisation stages;
        ``old_optimizer=True`` asks for bobyqa, which every fit here runs.
        pymer4's ``permute=`` is available for linear mixed models only."""
        summarize = summarize_alias(summarize, unsupported)
        reject_keywords("Glmer.fit", unsupported)
        if permutations(permute, []):
            raise DataError("permute= is available for linear mixed models (Lmer) only, not for generalized ones")
        self.control = control_from_fit(control, old_optimizer)
        if conf_int != "Wald":
            raise DataError("only Wald intervals are available for generalized linear mixed models")
        # 1 is the Laplace approximation; lme4's Gauss-Hermite rules stop at 100 points.
        nAGQ = whole_number(nAGQ, "nAGQ", minimum=1, maximum=_core.MAX_AGQ_POINTS)
        max_feval = whole_number(max_feval, "max_feval", minimum=1)
        link = link or self.link
        options = {"max_feval": max_feval, "nAGQ": nAGQ, "link": link, "control": control}
        options["old_optimizer"] = old_optimizer
        frame, weight_name, core_contrasts = self._prepare_fit(factors, ordered, weights, contrasts, options)
        try:
            self._fit = _core.GlmerFit.fit(
                self.formula,
                frame,
                FAMILIES[self.family],
                link=link,
                nagq=nAGQ,
                weights=weight_name,
                contrasts=core_contrasts,
                derivatives=True if self.control.derivatives is None else self.control.derivatives,
                max_feval=max_feval,
                optimizer=self.control.settings,
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
        self.nAGQ = nAGQ
        self.link = self._fit.link
        coefs = self._finish_fit(summarize=False, verbose=verbose, no_warnings=True)
        self._finish_pymer4_fit(0, None, [], no_warnings)
        if summarize:
            print(self.summary_text())
        return coefs

    def _coef_table(self) -> pl.DataFrame:
        """glmer's coefficient table: asymptotic z tests; for the logit link
        also pymer4's odds ratios and probabilities."""
        beta = self.beta
        se = np.sqrt(np.diag(self.vcov))
        lo, hi = wald_interval(beta, se)
        z = beta / se
        p = z_pvalues(z)
        cols: dict[str, Any] = {
            "term": self.fixed_names,
            "Estimate": beta,
            "2.5_ci": lo,
            "97.5_ci": hi,
            "SE": se,
            "Z-stat": z,
            "P-val": p,
            "Sig": [significance(v) for v in p],
        }
        if self._fit.link == "logit":
            # inf, not an overflow warning, for the enormous estimates of a separated fit
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
        return pl.DataFrame(cols)

    @property
    def deviance(self) -> float:
        """lme4's ``deviance()`` for a GLMM: the sum of squared deviance residuals."""
        self._check_fitted()
        return float(self._fit.deviance)

    @property
    def linear_predictor(self) -> np.ndarray:
        """The linear predictor on the rows of the fit (the link scale)."""
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
        """lme4's summary of a glmer fit, as text."""
        self._check_fitted()
        return glmer_summary(self)
