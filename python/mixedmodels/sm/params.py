"""statsmodels' ``MixedLMParams``: a parameter state of a linear mixed model
in which the scale (the residual variance) is profiled out.

``fe_params`` are the fixed effects, ``cov_re`` the covariance of the random
coefficients and ``vcomp`` the variances of the variance components, both
*relative to the scale* (statsmodels' "unscaled" parameters). Packed, they are
``fe_params`` then the lower triangle of ``cov_re`` row by row
(``numpy.tril_indices``) then ``vcomp`` (or, with ``use_sqrt``, the lower
triangle of the Cholesky factor and the square roots of ``vcomp``).

In this package the object is also the ``free`` pattern of ``fit``: ones for
estimated parameters; a ``cov_re`` pattern of the identity means independent
random effects (lme4's ``||``).
"""

from __future__ import annotations

import numpy as np

__all__ = ["MixedLMParams"]


class MixedLMParams:
    """A parameter state with ``k_fe`` fixed effects, ``k_re`` random
    coefficients and ``k_vc`` variance components."""

    def __init__(self, k_fe: int, k_re: int, k_vc: int) -> None:
        self.k_fe = k_fe
        self.k_re = k_re
        self.k_re2 = k_re * (k_re + 1) // 2
        self.k_vc = k_vc
        self.k_tot = self.k_fe + self.k_re2 + self.k_vc
        self._ix = np.tril_indices(self.k_re)
        self.fe_params = np.zeros(k_fe)
        self.cov_re = np.eye(k_re)
        self.vcomp = np.ones(k_vc)

    @staticmethod
    def from_packed(params: np.ndarray, k_fe: int, k_re: int, use_sqrt: bool, has_fe: bool) -> MixedLMParams:
        """The parameters from a packed vector (see the module's docstring)."""
        params = np.asarray(params, dtype=float)
        k_re2 = k_re * (k_re + 1) // 2
        start = k_fe if has_fe else 0
        k_vc = len(params) - start - k_re2
        out = MixedLMParams(k_fe, k_re, k_vc)
        out.fe_params = params[:k_fe].copy() if has_fe else np.zeros(k_fe)
        tri = np.zeros((k_re, k_re))
        tri[out._ix] = params[start : start + k_re2]
        out.cov_re = tri @ tri.T if use_sqrt else tri + tri.T - np.diag(np.diag(tri))
        vc = params[start + k_re2 :]
        out.vcomp = vc**2 if use_sqrt else vc.copy()
        return out

    @staticmethod
    def from_components(
        fe_params: np.ndarray | None = None,
        cov_re: np.ndarray | None = None,
        cov_re_sqrt: np.ndarray | None = None,
        vcomp: np.ndarray | None = None,
    ) -> MixedLMParams:
        """The parameters from their parts (``cov_re_sqrt``: a lower Cholesky factor of ``cov_re``)."""
        fe = np.asarray([] if fe_params is None else fe_params, dtype=float)
        vc = np.asarray([] if vcomp is None else vcomp, dtype=float)
        if cov_re_sqrt is not None:
            root = np.asarray(cov_re_sqrt, dtype=float)
            cov = root @ root.T
        else:
            cov = np.asarray(np.empty((0, 0)) if cov_re is None else cov_re, dtype=float)
        out = MixedLMParams(len(fe), cov.shape[0], len(vc))
        out.fe_params, out.cov_re, out.vcomp = fe, cov, vc
        return out

    def copy(self) -> MixedLMParams:
        out = MixedLMParams(self.k_fe, self.k_re, self.k_vc)
        out.fe_params, out.cov_re, out.vcomp = self.fe_params.copy(), self.cov_re.copy(), self.vcomp.copy()
        return out

    def get_packed(self, use_sqrt: bool, has_fe: bool = False) -> np.ndarray:
        """The parameters as one vector (see the module's docstring)."""
        if use_sqrt:
            tri = np.linalg.cholesky(self.cov_re)[self._ix] if self.k_re else np.zeros(0)
            vc = np.sqrt(self.vcomp)
        else:
            tri, vc = self.cov_re[self._ix], self.vcomp
        parts = [self.fe_params] if has_fe else []
        return np.concatenate([*parts, tri, vc])
