"""``MixedLM``: statsmodels' linear mixed model class, fitted by this
package's engine (lme4's profiled criterion, see :mod:`mixedmodels.lmer`).

The model translates statsmodels' description to an lme4 formula (see
:mod:`mixedmodels.sm.spec`), fits an :class:`~mixedmodels.Lmer` and returns a
:class:`~mixedmodels.sm.results.MixedLMResults` that reads like statsmodels'.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any

import numpy as np

from mixedmodels.lmer import Lmer
from mixedmodels.sm import spec as _spec
from mixedmodels.sm.params import MixedLMParams
from mixedmodels.sm.results import MixedLMResults, theta_of

__all__ = ["MixedLM", "mixedlm"]

# statsmodels' optimizer keywords: accepted, without effect here (the engine's optimizer is lme4's BOBYQA).
_OPTIMIZER_KEYWORDS = ("gtol", "maxiter", "eps", "maxcor", "ftol", "tol", "disp", "maxls")


class MixedLM:
    """A linear mixed model as statsmodels' ``MixedLM(endog, exog, groups,
    exog_re=None, exog_vc=None)``; :meth:`from_formula` (and
    :func:`mixedlm`) build one from formulas.

    ``groups`` is one value a row; random effects are independent between
    groups. ``exog_re`` are the covariates with random coefficients (default:
    a random intercept); ``exog_vc`` variance components, a ``VCSpec`` or a dict
    ``{name: {group: matrix}}``.
    """

    def __init__(
        self,
        endog: Any,
        exog: Any,
        groups: Any,
        exog_re: Any = None,
        exog_vc: Any = None,
        use_sqrt: bool = True,
        missing: str = "none",
        **kwargs: Any,
    ) -> None:
        self._init(_spec.from_arrays(endog, exog, groups, exog_re, exog_vc, missing), use_sqrt)

    def _init(self, spec: _spec.ModelSpec, use_sqrt: bool = True) -> None:
        self.spec = spec
        self.use_sqrt = use_sqrt
        self.reml = True
        self.endog = spec.endog
        self.exog = spec.exog
        self.exog_re = spec.exog_re
        self.groups = np.asarray(spec.group_values, dtype=object)[spec.group_codes]
        self.group_labels = list(spec.group_values)
        self.n_groups = len(self.group_labels)
        self.nobs = self.n_totobs = len(spec.endog)
        self.k_fe = spec.exog.shape[1]
        self.k_re = spec.k_re
        self.k_re2 = self.k_re * (self.k_re + 1) // 2
        self.k_vc = len(spec.vcs)
        self.exog_names = list(spec.xnames)
        self.endog_names = spec.endog_name
        self.row_indices = {label: np.flatnonzero(spec.group_codes == g) for g, label in enumerate(self.group_labels)}
        re_full = [
            f"{spec.re_names[i]} Var" if i == j else f"{spec.re_names[j]} x {spec.re_names[i]} Cov"
            for i in range(self.k_re)
            for j in range(i + 1)
        ]
        if spec.re_names == ["Group Var"]:  # statsmodels' name for an array model's default random intercept
            re_full = ["Group Var"]
        vc_full = [f"{vc.name} Var" for vc in spec.vcs]
        self.data = SimpleNamespace(
            xnames=self.exog_names,
            ynames=self.endog_names,
            exog_re_names=list(spec.re_names),
            exog_re_names_full=re_full,
            vcomp_names=[vc.name for vc in spec.vcs],
            param_names=[*self.exog_names, *re_full, *vc_full],
            frame=spec.frame,
        )
        self._lmer: Lmer | None = None

    @classmethod
    def from_formula(
        cls,
        formula: str,
        data: Any,
        re_formula: str | None = None,
        vc_formula: Mapping[str, str] | None = None,
        subset: Any = None,
        use_sparse: bool = False,
        missing: str = "none",
        *args: Any,
        **kwargs: Any,
    ) -> MixedLM:
        """statsmodels' ``MixedLM.from_formula``: ``formula`` the fixed effects
        (patsy syntax: ``C(f)``, ``np.log(x)``, ``I(x**2)``), ``groups=`` a
        column name or one value a row, ``re_formula`` the random coefficients
        (``"1 + x"``), ``vc_formula`` the variance components
        (``{"cask": "0 + C(cask)"}``). ``data``: pandas, polars or pyarrow."""
        if "groups" not in kwargs:
            raise AttributeError("'groups' is a required keyword argument in MixedLM.from_formula")
        model = cls.__new__(cls)
        spec = _spec.from_formula(formula, data, kwargs.pop("groups"), re_formula, vc_formula, subset, missing)
        model._init(spec, kwargs.pop("use_sqrt", True))
        model.formula = formula
        return model

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        start_params: Any = None,
        reml: bool = True,
        niter_sa: int = 0,
        do_cg: bool = True,
        fe_pen: Any = None,
        cov_pen: Any = None,
        free: MixedLMParams | None = None,
        full_output: bool = False,
        method: str | list[str] | None = None,
        **fit_kwargs: Any,
    ) -> MixedLMResults:
        """Fit by REML (``reml=True``) or maximum likelihood.

        The optimizer is lme4's (BOBYQA on the relative covariance factor);
        ``method`` (any scipy method name, or a list), ``start_params``,
        ``niter_sa`` and the optimizer keywords (``gtol``, ``maxiter``, ...)
        are accepted and have no effect. ``free``: a ``MixedLMParams`` pattern
        whose ``cov_re`` is the identity fits independent random effects.
        Penalized fits (``fe_pen``, ``cov_pen``) are not available.
        """
        _check_method(method)
        unknown = sorted(set(fit_kwargs) - set(_OPTIMIZER_KEYWORDS))
        if unknown:
            warnings.warn(f"Argument(s) {', '.join(unknown)} not used by MixedLM.fit", RuntimeWarning, stacklevel=2)
        if fe_pen is not None or cov_pen is not None:
            raise NotImplementedError("penalized fits (fe_pen, cov_pen) are not available; use statsmodels for those")
        if not do_cg:
            raise NotImplementedError("do_cg=False (results at the starting values) is not available")
        independent = self._independent(free)
        lmer = Lmer(self.spec.formula(independent), data=self.spec.frame)
        lmer.fit(REML=bool(reml), summarize=False)
        self.reml = bool(reml)
        self._lmer = lmer
        results = MixedLMResults(self, lmer, free)
        results.hist = [lmer.optsummary] if full_output else None
        return results

    def _independent(self, free: MixedLMParams | None) -> bool:
        """Whether ``free`` asks for uncorrelated random coefficients; other
        patterns (parameters held at their starting values) are refused."""
        if free is None:
            return False
        fe, cov, vc = (np.asarray(free.fe_params), np.asarray(free.cov_re), np.asarray(free.vcomp))
        if not (np.all(fe == 1) and np.all(vc == 1) and np.all(np.diag(cov) == 1)):
            raise NotImplementedError(
                "free=: only the pattern of independent random effects (cov_re = identity) is available"
            )
        off = cov[~np.eye(cov.shape[0], dtype=bool)]
        if np.all(off == 1):
            return False
        if np.all(off == 0):
            return True
        raise NotImplementedError("free=: cov_re must be all ones (unstructured) or the identity (independent)")

    # ---------------------------------------------------------- likelihood
    def loglike(self, params: MixedLMParams | np.ndarray, profile_fe: bool = True) -> float:
        """The log-likelihood (REML or ML, as last fitted) at ``params``,
        with the scale and the fixed effects profiled out (lme4's profiled
        criterion, -2 log-likelihood, at the matching relative covariance
        factor). The model must have been fitted once."""
        lmer = self._fitted_lmer()
        if not isinstance(params, MixedLMParams):
            params = MixedLMParams.from_packed(np.asarray(params), self.k_fe, self.k_re, self.use_sqrt, has_fe=True)
        if not profile_fe:
            fe = np.asarray(params.fe_params)
            if fe.size and not np.allclose(fe, lmer.beta, rtol=1e-6, atol=1e-10):
                raise NotImplementedError("loglike(profile_fe=False) at fixed effects other than the estimates")
        theta = theta_of(self, lmer, np.asarray(params.cov_re), np.asarray(params.vcomp))
        if theta is None:
            return float("-inf")
        return -0.5 * lmer.objective_at(theta)

    def predict(self, params: Any, exog: Any = None) -> np.ndarray:
        """The fixed-effects part of the mean, ``exog @ fe_params`` (statsmodels' rule)."""
        fe = params.fe_params if isinstance(params, MixedLMParams) else np.asarray(params)[: self.k_fe]
        x = self.exog if exog is None else np.asarray(exog, dtype=float)
        return x @ np.asarray(fe)

    def _fitted_lmer(self) -> Lmer:
        if self._lmer is None:
            raise ValueError("the model has not been fitted yet: call fit() first")
        return self._lmer

    def __repr__(self) -> str:
        return f"<MixedLM: {self.spec.formula()} ({self.nobs} obs, {self.n_groups} groups)>"


def _check_method(method: Any) -> None:
    methods = [method] if isinstance(method, str) else list(method or [])
    bad = [m for m in methods if not isinstance(m, str)]
    if bad:
        raise TypeError(f"method must be a string or a list of strings, got {bad[0]!r}")


def mixedlm(
    formula: str,
    data: Any,
    re_formula: str | None = None,
    vc_formula: Mapping[str, str] | None = None,
    subset: Any = None,
    use_sparse: bool = False,
    missing: str = "none",
    *args: Any,
    **kwargs: Any,
) -> MixedLM:
    """statsmodels' ``smf.mixedlm``: :meth:`MixedLM.from_formula`.

    >>> import mixedmodels.formula.api as smf
    >>> from mixedmodels import load_dataset
    >>> data = load_dataset("dietox")
    >>> md = smf.mixedlm("Weight ~ Time", data, groups=data["Pig"])
    >>> mdf = md.fit()
    >>> round(mdf.fe_params["Time"], 4)
    6.9425
    """
    return MixedLM.from_formula(formula, data, re_formula, vc_formula, subset, use_sparse, missing, *args, **kwargs)
