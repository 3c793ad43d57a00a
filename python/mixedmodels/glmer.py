"""Generalized linear mixed models (lme4's ``glmer``): ``Lmer(formula, data,
family="binomial")`` returns a :class:`Glmer`, fitted in Rust by PIRLS with the
Laplace approximation, for one scalar random effect adaptive Gauss-Hermite
quadrature (``fit(nAGQ=k)``), or PIRLS alone (``fit(nAGQ=0)``). The negative
binomial family estimates its dispersion as lme4's ``glmer.nb`` (or takes it
fixed: ``nb_theta=``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import polars as pl

from mixedmodels import _core, intervals
from mixedmodels import drop1 as drop1_module
from mixedmodels._args import reject_keywords, whole_number
from mixedmodels._fitargs import permutations, summarize_alias
from mixedmodels._stats import odds_ratio_columns, significance, wald_interval, z_pvalues
from mixedmodels._summary import glmer_summary
from mixedmodels.control import control_from_fit
from mixedmodels.exceptions import DataError, NumericalError, UnavailableError
from mixedmodels.fit_trace import Callback, FitTrace
from mixedmodels.mixed import MixedModel
from mixedmodels.model import FittedModel, check_binomial_response

__all__ = ["FAMILIES", "Glmer"]

# The families of generalized models, by the names users give (lower case), with the
# core's name of each: the one list of families (Lmer, the CLI and the docs read it).
FAMILIES = {
    "binomial": "binomial",
    "poisson": "poisson",
    "gamma": "Gamma",
    "inverse_gaussian": "inverse.gaussian",
    "inverse.gaussian": "inverse.gaussian",
    "negative_binomial": "negative_binomial",
}


class Glmer(MixedModel):
    """A generalized linear mixed model: ``Lmer(formula, data, family=...)``
    with family ``binomial`` (logit, probit or cloglog link), ``poisson``,
    ``gamma``, ``inverse_gaussian`` or ``negative_binomial`` (log link; its
    theta estimated as lme4's ``glmer.nb``, or fixed with ``nb_theta=``)."""

    is_generalized: ClassVar[bool] = True
    default_residuals: ClassVar[str] = "deviance"
    # What a linear mixed model has and a GLMM has not: asking for it says what to use instead.
    _UNAVAILABLE: ClassVar[dict[str, str]] = {
        "anova": "F tables are for linear mixed models; compare GLMMs with mixedmodels.anova(m0, m1)",
        "ranova": "ranova() is for linear mixed models; compare GLMMs with mixedmodels.anova(m0, m1)",
        "contest": "contest() is for linear mixed models; use post_hoc() for the contrasts of a GLMM",
        "step": "step() is lmerTest's backward elimination for linear mixed models; for a GLMM use drop1() "
        "and update()",
        "hlm_resid": "HLMdiag's residual tables are for linear mixed models; use residuals(type=...) of a GLMM",
        "hlm_augment": "HLMdiag's residual tables are for linear mixed models; use influence(approx=False)",
        "plot_hlm_resid": "residual plots from hlm_resid() are for linear mixed models; see plot_diagnostics()",
    }

    def __init__(
        self,
        formula: str,
        data: Any,
        family: str = "binomial",
        link: str | None = None,
        nb_theta: float | None = None,
    ) -> None:
        key = str(family).lower()
        if key not in FAMILIES:
            raise DataError(f"unknown family '{family}' (use gaussian, {', '.join(_FAMILY_CHOICES)})")
        check_binomial_response(formula, key)
        super().__init__(formula, data)
        if self.source is not None:
            raise DataError(
                f"a generalized linear mixed model revisits every row at each PIRLS iteration, so it is fitted in "
                f"memory only: collect the data (this is a {self.source.engine} source), or fit a linear model"
            )
        self.family = key
        self.link = link
        self._nb_theta_given = _check_nb_theta(nb_theta, key)
        self.nAGQ = 1
        self.ddf = "asymptotic"

    def __getattr__(self, name: str) -> Any:
        message = type(self)._UNAVAILABLE.get(name)
        if message is None:
            raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")
        raise UnavailableError(message)

    def _init_arguments(self) -> dict[str, Any]:
        return {"family": self.family, "link": self.link, "nb_theta": self._nb_theta_given}

    def with_formula(self, formula: str | None = None, data: Any = None) -> FittedModel:
        return type(self)(
            formula or self.formula,
            self.data if data is None else data,
            family=self.family,
            link=self.link,
            nb_theta=self._nb_theta_given,
        )

    def fit(
        self,
        conf_int: str = "Wald",
        n_boot: int = 500,
        factors: Mapping[str, Any] | None = None,
        ordered: bool = False,
        REML: bool = False,
        summarize: bool = True,
        verbose: bool | int | Callback = False,
        no_warnings: bool = False,
        weights: str | Sequence[float] | np.ndarray | None = None,
        contrasts: Mapping[str, Any] | None = None,
        nAGQ: int = 1,
        link: str | None = None,
        max_feval: int = 10_000,
        nb_theta: float | None = None,
        tol_pwrss: float = 1e-7,
        control: str | Mapping[str, Any] | None = None,
        old_optimizer: bool = False,
        permute: int | bool = False,
        seed: int | None = None,
        **unsupported: Any,
    ) -> pl.DataFrame:
        """Fit by maximum likelihood: the Laplace approximation (``nAGQ=1``),
        adaptive Gauss-Hermite quadrature with ``nAGQ`` nodes (one scalar
        random effect only), or ``nAGQ=0``: glmer's fast fit on PIRLS alone
        (the fixed effects estimated inside PIRLS, theta on that deviance;
        its own, slightly lower, logLik). ``weights`` are prior weights (for a
        binomial proportion: the number of trials). ``REML`` is ignored (glmer
        has no REML). Returns ``coefs`` (with odds ratios for the logit link).
        ``nb_theta`` fixes the negative binomial's theta (R's
        ``MASS::negative.binomial(theta)``); without it theta is estimated, as
        ``glmer.nb`` does, and read from ``nb_theta`` after the fit.
        ``tol_pwrss`` is lme4's ``glmerControl(tolPwrss=)``: PIRLS stops when
        the penalized deviance changes by less than this, relatively (lme4's
        1e-7 reproduces glmer's fits; 1e-13 converges PIRLS fully, which
        moves the logLik of slowly converging models by up to ~1e-3; the
        search of ``glmer.nb``'s theta always uses 1e-13).
        ``control`` takes glmerControl's options (R text or a dict, see
        :mod:`mixedmodels.control`), applied to both optimisation stages;
        ``old_optimizer=True`` asks for bobyqa, which every fit here runs.
        ``permute=N`` replaces the p-values by those of N refits with the
        response shuffled within the grouping factors' cells (``Num_perm``,
        ``Perm-P-val``), reproducible for a ``seed``.

        ``verbose=True`` (or 1) prints both stages' progress while they run,
        ``verbose=2`` every evaluation, and a callable receives each
        :class:`~mixedmodels.fit_trace.FitRecord` instead (see
        :mod:`mixedmodels.fit_trace` and :meth:`Lmer.fit <mixedmodels.lmer.Lmer.fit>`)."""
        summarize = summarize_alias(summarize, unsupported)
        reject_keywords("Glmer.fit", unsupported)
        notes: list[str] = []
        n_perm = permutations(permute, notes)
        self.control = control_from_fit(control, old_optimizer)
        if conf_int not in intervals.METHODS:
            raise DataError(f"conf_int must be 'Wald', 'profile' or 'boot', not '{conf_int}'")
        # 0 is PIRLS alone, 1 the Laplace approximation; lme4's Gauss-Hermite rules stop at 100 points.
        nAGQ = whole_number(nAGQ, "nAGQ", minimum=0, maximum=_core.MAX_AGQ_POINTS)
        max_feval = whole_number(max_feval, "max_feval", minimum=1)
        if isinstance(tol_pwrss, bool) or not isinstance(tol_pwrss, (int, float)) or not 0 < tol_pwrss < 1:
            raise DataError(f"tol_pwrss must be a number between 0 and 1, not {tol_pwrss!r}")
        link = link or self.link
        nb_theta = self._nb_theta_given if nb_theta is None else _check_nb_theta(nb_theta, self.family)
        options = {"max_feval": max_feval, "nAGQ": nAGQ, "link": link, "control": control}
        options.update(old_optimizer=old_optimizer, nb_theta=nb_theta, tol_pwrss=tol_pwrss)
        frame, weight_name, core_contrasts = self._prepare_fit(factors, ordered, weights, contrasts, options)
        trace = FitTrace(verbose, "deviance")
        try:
            self._fit = _core.GlmerFit.fit(
                self.formula,
                frame,
                FAMILIES[self.family],
                **self._core_arguments(weight_name, core_contrasts),
                progress=trace.callback,
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
        self._finish_fit(summarize=False, verbose=False, no_warnings=True)
        trace.finish(self.optsummary)
        self._finish_pymer4_fit(n_perm, seed, notes, no_warnings)
        if conf_int != "Wald":
            self._intervals_from(conf_int, n_boot, seed)
        if summarize:
            print(self.summary_text())
        assert self.coefs is not None
        return self.coefs

    def _core_arguments(self, weight_name: str | None, core_contrasts: list[Any]) -> dict[str, Any]:
        """The core's fit arguments from the recorded ``fit()`` options."""
        o = self._fit_options
        return {
            "link": o["link"],
            "nagq": o["nAGQ"],
            "weights": weight_name,
            "contrasts": core_contrasts,
            "derivatives": True if self.control.derivatives is None else self.control.derivatives,
            "max_feval": o["max_feval"],
            "optimizer": self.control.settings,
            "nb_theta": o["nb_theta"],
            "tol_pwrss": float(o["tol_pwrss"]),
        }

    def _estimates(self) -> dict[str, Any]:
        return {**super()._estimates(), "core": dict(self._fit.estimates())}

    def _restore_fit(self, options: dict[str, Any], estimates: dict[str, Any]) -> None:
        """The fit at the saved estimates, without optimizing (the core
        rebuilds PIRLS's last state; see :mod:`mixedmodels.io`)."""
        self.control = control_from_fit(options["control"], options["old_optimizer"])
        frame, weight_name, core_contrasts = self._prepare_saved_fit(options)
        core = {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in estimates["core"].items()}
        self._fit = _core.GlmerFit.at_estimates(
            self.formula, frame, FAMILIES[self.family], core, **self._core_arguments(weight_name, core_contrasts)
        )
        self.nAGQ = int(options["nAGQ"])
        self.link = self._fit.link
        self._finish_fit(summarize=False, verbose=False, no_warnings=True)

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
            cols.update(odds_ratio_columns(beta, lo, hi))
        return pl.DataFrame(cols)

    def drop1(self, scope: Sequence[str] | None = None) -> pl.DataFrame:
        """lme4's ``drop1(m, test = "Chisq")``: each fixed term that can be
        dropped while respecting marginality is removed by a refit (maximum
        likelihood, this fit's options) and tested by a likelihood-ratio test
        (columns ``term, npar, logLik, AIC, LRT, Df, P-val``). See
        :func:`mixedmodels.drop1.drop1`."""
        self._check_fitted()
        return drop1_module.drop1(self, scope=scope)

    @property
    def nb_theta(self) -> float | None:
        """The negative binomial's theta (variance mu + mu^2 / theta): estimated
        as lme4's ``glmer.nb`` does, or the one given; None for other families
        (lme4's ``getME(m, "glmer.nb.theta")``)."""
        self._check_fitted()
        theta = self._fit.nb_theta
        return None if theta is None else float(theta)

    @property
    def family_name(self) -> str:
        """R's ``family(m)$family``: ``binomial``, ``poisson``, ``Gamma``,
        ``inverse.gaussian`` or ``Negative Binomial(3.3034)``."""
        self._check_fitted()
        return str(self._fit.family_name)

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


_FAMILY_CHOICES = ("binomial", "poisson", "gamma", "inverse_gaussian", "negative_binomial")


def _check_nb_theta(nb_theta: Any, family: str) -> float | None:
    """A fixed negative binomial theta: a positive number, for that family only."""
    if nb_theta is None:
        return None
    if family != "negative_binomial":
        raise DataError(f"nb_theta is the negative binomial family's dispersion; this model's family is '{family}'")
    if isinstance(nb_theta, bool) or not isinstance(nb_theta, (int, float, np.integer, np.floating)):
        raise DataError(f"nb_theta must be a positive number, not {nb_theta!r}")
    if not (np.isfinite(nb_theta) and nb_theta > 0):
        raise DataError(f"nb_theta must be a positive number, not {nb_theta!r}")
    return float(nb_theta)
