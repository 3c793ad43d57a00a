"""``MixedLMResults``: the results of a :class:`~mixedmodels.sm.model.MixedLM`
fit, laid out as statsmodels lays them out (pandas objects for formula or
pandas models, arrays for array models), read from the ``Lmer`` fitted
underneath (``results.lmer``: lme4's summary, anova, plots and the rest).

Where the numbers come from:

- ``fe_params``, their covariance (the fixed-effects block of
  ``cov_params()``), ``scale``, ``cov_re``, ``vcomp``, ``llf``, the random
  effects and fitted values are lme4's, at lme4's optimum (statsmodels'
  gradient optimizers sometimes stop short of it).
- The standard errors of the variance parameters (``bse`` past the fixed
  effects; statsmodels' parameterization: variances and covariances divided
  by the scale) come from the curvature of the profiled log-likelihood, by
  central differences: the inverse of that Hessian is the variance block of
  the inverse of statsmodels' full Hessian at the optimum. The covariances
  between fixed-effects and variance estimates are left at zero.
- Tests and intervals are Wald z tests, statsmodels' convention (lme4 reports
  no p-values; ``results.lmer.coefs`` has Satterthwaite's t tests).
- ``aic`` and ``bic`` are NaN for REML fits, as in statsmodels.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import stats

from mixedmodels._frame import to_polars
from mixedmodels.lmer import Lmer
from mixedmodels.sm.params import MixedLMParams

if TYPE_CHECKING:
    from mixedmodels.sm.model import MixedLM
    from mixedmodels.sm.summary import Summary

__all__ = ["MixedLMResults", "theta_of"]


def _pandas() -> Any:
    try:
        import pandas
    except ImportError:  # pragma: no cover - the test environment has pandas
        raise ImportError(
            "the statsmodels-style front end returns pandas objects: pip install 'mixedmodels[pandas]'"
        ) from None
    return pandas


class MixedLMResults:
    """Results of a linear mixed model fit, as statsmodels' ``MixedLMResults``."""

    def __init__(self, model: MixedLM, lmer: Lmer, free: MixedLMParams | None = None) -> None:
        spec = model.spec
        self.model = model
        self.lmer = lmer
        self.freepat = free
        self.reml = model.reml
        self.method = "REML" if model.reml else "ML"
        self.use_sqrt = model.use_sqrt
        self.converged = bool(lmer.optsummary.get("converged", True))
        self.nobs = lmer.nobs
        self.df_resid = self.nobs - np.linalg.matrix_rank(model.exog) if model.exog.size else self.nobs
        self.scale = float(lmer.sigma) ** 2
        self._names = [spec.xnames[spec.r_names.index(n)] for n in lmer.fixed_names]
        self.k_fe = len(self._names)
        self.k_re, self.k_re2, self.k_vc = model.k_re, model.k_re2, model.k_vc
        cov, vcomp = _covariances(model, lmer)
        self._cov_re, self.vcomp = cov, vcomp
        self.params_object = MixedLMParams.from_components(lmer.beta, cov / self.scale, vcomp=vcomp / self.scale)
        self.hist: list[dict[str, Any]] | None = None

    # ------------------------------------------------------------ wrapping
    def _series(self, values: np.ndarray, names: list[str]) -> Any:
        return _pandas().Series(values, index=names) if self.model.spec.pandas else np.asarray(values)

    def _frame(self, values: np.ndarray, rows: list[str], columns: list[Any]) -> Any:
        return _pandas().DataFrame(values, index=rows, columns=columns) if self.model.spec.pandas else values

    def _rows(self, values: np.ndarray) -> Any:
        spec = self.model.spec
        return _pandas().Series(values, index=spec.index) if spec.pandas else np.asarray(values)

    @property
    def param_names(self) -> list[str]:
        data = self.model.data
        return [*self._names, *data.exog_re_names_full, *(f"{n} Var" for n in data.vcomp_names)]

    # ------------------------------------------------------------ estimates
    @property
    def fe_params(self) -> Any:
        """The fixed-effects estimates."""
        return self._series(self.lmer.beta, self._names)

    @property
    def cov_re(self) -> Any:
        """The covariance of the random coefficients (``re_formula``)."""
        names = self.model.data.exog_re_names
        return self._frame(self._cov_re, names, names)

    @property
    def cov_re_unscaled(self) -> Any:
        """``cov_re`` divided by the scale."""
        names = self.model.data.exog_re_names
        return self._frame(self._cov_re / self.scale, names, names)

    @property
    def params(self) -> Any:
        """Fixed effects, then the lower triangle of ``cov_re`` and ``vcomp``,
        both divided by ``scale`` (statsmodels' packed parameters)."""
        return self._series(self._packed(), self.param_names)

    def _packed(self) -> np.ndarray:
        return self.params_object.get_packed(use_sqrt=False, has_fe=True)

    @cached_property
    def _cov_params(self) -> np.ndarray:
        k = self.k_fe
        packed = self._packed()
        out = np.zeros((len(packed), len(packed)))
        out[:k, :k] = self.lmer.vcov
        free = np.ones(len(packed) - k, dtype=bool)
        if self.freepat is not None:  # parameters held fixed (independent random effects) have no variance
            free = self.freepat.get_packed(use_sqrt=False, has_fe=False) != 0
        block = np.zeros((len(free), len(free)))
        block[np.ix_(free, free)] = _variance_covariance(self.model, self.lmer, packed[k:], self.k_re, free)
        out[k:, k:] = block
        return out

    def cov_params(self) -> Any:
        """Covariance of ``params``: lme4's for the fixed effects, the inverse
        curvature of the profiled log-likelihood for the variance parameters."""
        names = self.param_names
        return self._frame(self._cov_params, names, names)

    @property
    def bse(self) -> Any:
        """Standard errors of ``params``."""
        return self._series(np.sqrt(np.diag(self._cov_params)), self.param_names)

    @property
    def bse_fe(self) -> Any:
        return self._series(np.sqrt(np.diag(self._cov_params))[: self.k_fe], self._names)

    @property
    def bse_re(self) -> Any:
        """Standard errors of the variance parameters, times ``sqrt(scale)`` (statsmodels' rule)."""
        se = np.sqrt(self.scale * np.diag(self._cov_params)[self.k_fe :])
        return self._series(se, self.param_names[self.k_fe :])

    @property
    def tvalues(self) -> Any:
        return self._series(self._packed() / np.sqrt(np.diag(self._cov_params)), self.param_names)

    @property
    def pvalues(self) -> Any:
        """Two-sided p-values of the z tests of ``params``."""
        z = self._packed() / np.sqrt(np.diag(self._cov_params))
        return self._series(2 * stats.norm.sf(np.abs(z)), self.param_names)

    def conf_int(self, alpha: float = 0.05, cols: Any = None) -> Any:
        """Wald (normal) intervals of ``params``: columns 0 (lower) and 1 (upper)."""
        q = stats.norm.ppf(1 - alpha / 2)
        est, se = self._packed(), np.sqrt(np.diag(self._cov_params))
        out = np.column_stack([est - q * se, est + q * se])
        if cols is not None:
            out = out[np.asarray(cols)]
            names = [self.param_names[i] for i in np.asarray(cols)]
        else:
            names = self.param_names
        return self._frame(out, names, [0, 1])

    # ------------------------------------------------------------ likelihood
    @property
    def llf(self) -> float:
        """The log-likelihood (the REML one for REML fits), lme4's ``logLik``."""
        return float(self.lmer.logLike)

    @property
    def aic(self) -> float:
        """lme4's AIC; NaN for REML fits (statsmodels' convention)."""
        return float("nan") if self.reml else float(self.lmer.AIC)

    @property
    def bic(self) -> float:
        return float("nan") if self.reml else float(self.lmer.BIC)

    # ------------------------------------------------------- random effects
    @cached_property
    def random_effects(self) -> dict[Any, Any]:
        """The conditional means of each group's random effects: group value ->
        Series (random coefficients, then each variance component's effects)."""
        pd = _pandas()
        model, lmer = self.model, self.lmer
        spec = model.spec
        terms = lmer.random_terms
        re_terms = _re_terms(model, terms)
        level_of = {id(t): {lv: i for i, lv in enumerate(t.levels)} for t in terms}
        group_text = spec.group_text
        out = {}
        for g, label in enumerate(model.group_labels):
            values = np.zeros(model.k_re)
            for t, idx in re_terms:
                i = level_of[id(t)].get(group_text[g])
                if i is not None:
                    values[idx] = t.ranef[i]
            parts, names = [values], list(spec.re_names)
            for vc in spec.vcs:
                t = _vc_term(vc, terms)
                levels = level_of[id(t)]
                parts.append(np.array([t.ranef[levels[lv], 0] for lv, _ in vc.effects[g]]))
                names += [f"{vc.name}[{column}]" for _, column in vc.effects[g]]
            out[label] = pd.Series(np.concatenate(parts), index=names)
        return out

    @cached_property
    def random_effects_cov(self) -> dict[Any, Any]:
        """The conditional covariance of each group's random effects given the
        data (at the estimated fixed effects): ``scale * L (L'Z'ZL + I)^-1 L'``
        with ``Z`` the group's random-effects design and ``L L'`` the relative
        covariance (lme4's ``condVar``, here with the covariances between terms)."""
        pd = _pandas()
        model = self.model
        spec = model.spec
        root_re = _psd_root(self._cov_re / self.scale)
        out = {}
        for g, label in enumerate(model.group_labels):
            rows = model.row_indices[label]
            blocks, roots = [spec.exog_re[rows]], [root_re]
            for vc, v in zip(spec.vcs, self.vcomp, strict=True):
                z = np.zeros((len(rows), len(vc.effects[g])))
                z[np.arange(len(rows)), vc.rows[rows]] = vc.values[rows]
                blocks.append(z)
                roots.append(np.sqrt(max(v, 0.0) / self.scale) * np.eye(z.shape[1]))
            zl = np.concatenate(blocks, axis=1) @ _block_diag(roots)
            lam = _block_diag(roots)
            inner = np.linalg.solve(zl.T @ zl + np.eye(zl.shape[1]), lam.T)
            cov = self.scale * lam @ inner
            names = self.random_effects[label].index
            out[label] = pd.DataFrame(cov, index=names, columns=names)
        return out

    # ------------------------------------------------------------ fitted values
    @property
    def fittedvalues(self) -> Any:
        """Fitted values with the predicted random effects."""
        return self._rows(np.asarray(self.lmer.fits))

    @property
    def resid(self) -> Any:
        """Response minus fitted values."""
        return self._rows(np.asarray(self.lmer.residuals))

    def predict(self, exog: Any = None, transform: bool = True, *args: Any, **kwargs: Any) -> Any:
        """The fixed-effects part of the mean (statsmodels' rule): for the data
        of the fit, or new data (a data frame for formula models, a design
        matrix for array models)."""
        spec = self.model.spec
        if exog is None:
            values = spec.exog[:, [spec.r_names.index(n) for n in self.lmer.fixed_names]] @ self.lmer.beta
            return self._rows(values)
        if not transform or not hasattr(self.model, "formula"):
            x = np.asarray(exog, dtype=float)
            return x.reshape(len(x), -1) @ self.lmer.beta
        frame = to_polars(exog)
        values = self.lmer.fixed_design(frame) @ self.lmer.beta
        index = getattr(exog, "index", None)
        return _pandas().Series(values, index=index) if spec.pandas else values

    # ---------------------------------------------------------------- display
    def summary(
        self,
        yname: str | None = None,
        xname_fe: list[str] | None = None,
        xname_re: list[str] | None = None,
        title: str | None = None,
        alpha: float = 0.05,
    ) -> Summary:
        """statsmodels' summary: model information and one table of the fixed
        effects (z tests) and the variance parameters."""
        from mixedmodels.sm.summary import results_summary

        return results_summary(self, yname, xname_fe, xname_re, title, alpha)

    def __repr__(self) -> str:
        return f"<MixedLMResults: {self.method}, {self.nobs} obs, {self.model.n_groups} groups>"


# ------------------------------------------------------------ lme4 -> statsmodels
def _unquoted(name: str) -> str:
    return name[1:-1] if len(name) > 1 and name[0] == name[-1] == "`" else name


def _vc_term(vc: Any, terms: list[Any]) -> Any:
    for t in terms:
        if _unquoted(t.group) == vc.grouping and t.cnames == [vc.cname]:
            return t
    raise AssertionError(f"no lme4 term for variance component {vc.name}")  # pragma: no cover


def _re_terms(model: Any, terms: list[Any]) -> list[tuple[Any, list[int]]]:
    """The lme4 terms of the random coefficients, with their columns' positions in ``cov_re``."""
    spec = model.spec
    vc_terms = {id(_vc_term(vc, terms)) for vc in spec.vcs}
    out = []
    for t in terms:
        if _unquoted(t.group) == spec.group and id(t) not in vc_terms:
            out.append((t, [spec.re_r_names.index(c) for c in t.cnames]))
    return out


def _covariances(model: Any, lmer: Lmer) -> tuple[np.ndarray, np.ndarray]:
    terms = lmer.random_terms
    cov = np.zeros((model.k_re, model.k_re))
    for t, idx in _re_terms(model, terms):
        cov[np.ix_(idx, idx)] = t.covariance
    vcomp = np.array([_vc_term(vc, terms).covariance[0, 0] for vc in model.spec.vcs])
    return cov, vcomp


def _psd_root(a: np.ndarray) -> np.ndarray | None:
    """A lower-triangular ``L`` with ``L L' = a`` for a positive semi-definite
    ``a`` (a zero pivot leaves its column zero); None when ``a`` is not."""
    n = a.shape[0]
    out = np.zeros_like(a, dtype=float)
    scale = max(float(np.max(np.abs(np.diag(a)))) if n else 0.0, 1e-300)
    for j in range(n):
        d = a[j, j] - out[j, :j] @ out[j, :j]
        if d < -1e-10 * scale:
            return None
        if d <= 1e-14 * scale:
            if np.any(np.abs(a[j + 1 :, j] - out[j + 1 :, :j] @ out[j, :j]) > 1e-8 * scale):
                return None
            continue
        out[j, j] = np.sqrt(d)
        out[j + 1 :, j] = (a[j + 1 :, j] - out[j + 1 :, :j] @ out[j, :j]) / out[j, j]
    return out


def _block_diag(blocks: list[np.ndarray]) -> np.ndarray:
    n = sum(b.shape[0] for b in blocks)
    out = np.zeros((n, n))
    i = 0
    for b in blocks:
        out[i : i + b.shape[0], i : i + b.shape[0]] = b
        i += b.shape[0]
    return out


def theta_of(model: Any, lmer: Lmer, cov_re: np.ndarray, vcomp: np.ndarray) -> list[float] | None:
    """lme4's theta (relative covariance factor, column-major lower
    triangles, term by term) for statsmodels' unscaled ``cov_re`` and
    ``vcomp``; None outside the parameter space."""
    terms = lmer.random_terms
    theta = np.zeros(len(lmer.theta))
    for t, idx in _re_terms(model, terms):
        root = _psd_root(np.asarray(cov_re)[np.ix_(idx, idx)])
        if root is None:
            return None
        q = len(idx)
        block = [root[i, j] for j in range(q) for i in range(j, q)]
        theta[t.theta_offset : t.theta_offset + len(block)] = block
    for vc, v in zip(model.spec.vcs, np.asarray(vcomp), strict=True):
        if v < 0:
            return None
        theta[_vc_term(vc, terms).theta_offset] = np.sqrt(v)
    return theta.tolist()


def _variance_covariance(model: Any, lmer: Lmer, psi: np.ndarray, k_re: int, free: np.ndarray) -> np.ndarray:
    """The inverse of minus the Hessian of the profiled log-likelihood in
    statsmodels' unscaled variance parameters (lower triangle of ``cov_re``
    row by row, then ``vcomp``; those marked ``free``), by central differences."""
    at = np.flatnonzero(free)
    k = len(at)
    if k == 0:
        return np.zeros((0, 0))
    tril = np.tril_indices(k_re)

    def loglike(free_values: np.ndarray) -> float:
        p = psi.copy()
        p[at] = free_values
        cov = np.zeros((k_re, k_re))
        cov[tril] = p[: len(tril[0])]
        cov = cov + cov.T - np.diag(np.diag(cov))
        theta = theta_of(model, lmer, cov, p[len(tril[0]) :])
        return float("nan") if theta is None else -0.5 * lmer.objective_at(theta)

    psi_free = psi[at]
    h = 1e-3 * np.maximum(np.abs(psi_free), max(0.05 * float(np.max(np.abs(psi_free))), 1e-8))
    f0 = loglike(psi_free)
    hess = np.zeros((k, k))
    for i in range(k):
        e_i = np.eye(k)[i] * h[i]
        hess[i, i] = (loglike(psi_free + e_i) - 2 * f0 + loglike(psi_free - e_i)) / h[i] ** 2
        for j in range(i):
            e_j = np.eye(k)[j] * h[j]
            hess[i, j] = hess[j, i] = (
                loglike(psi_free + e_i + e_j)
                - loglike(psi_free + e_i - e_j)
                - loglike(psi_free - e_i + e_j)
                + loglike(psi_free - e_i - e_j)
            ) / (4 * h[i] * h[j])
    if not np.all(np.isfinite(hess)):
        return np.full((k, k), np.nan)
    try:
        return np.linalg.inv(-hess)
    except np.linalg.LinAlgError:
        return np.full((k, k), np.nan)
