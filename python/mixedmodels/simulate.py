"""Simulated data sets for regression and multi-level models (pymer4's
``pymer4.simulate``), as polars DataFrames with the ground truth that made
them. Every function draws from one generator seeded by ``seed``, so the same
seed gives the same data.

>>> from mixedmodels.simulate import simulate_lm
>>> data, b = simulate_lm(100, 2, coef_vals=[1.0, 0.5, -0.5], seed=1)
>>> data.columns, data.height
(['DV', 'IV1', 'IV2'], 100)
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

from mixedmodels.stats import discrete_inverse_logit
from mixedmodels.utils import isPSD, nearestPSD

__all__ = ["easy_multivariate_normal", "simulate_lm", "simulate_lmm"]


def _per_feature(value: Any, k: int, name: str) -> np.ndarray:
    """A scalar repeated k times, or a list of k values."""
    if isinstance(value, (list, tuple, np.ndarray)):
        if len(value) != k:
            raise ValueError(f"{name} must have {k} values (one a predictor), not {len(value)}")
        return np.asarray(value, dtype=float)
    return np.full(k, float(value))


def _correlation_matrix(corrs: Any, k: int) -> np.ndarray:
    """A k x k correlation matrix from a matrix, its upper triangle (row by
    row, as scipy's ``squareform``) or one correlation for every pair."""
    if isinstance(corrs, (int, float)) and not isinstance(corrs, bool):
        r = np.full((k, k), float(corrs))
    else:
        arr = np.asarray(corrs, dtype=float)
        if arr.ndim == 2:
            if arr.shape != (k, k) or not np.allclose(arr, arr.T) or not np.allclose(np.diag(arr), 1.0):
                raise ValueError("Correlation matrix must be square symmetric with a unit diagonal")
            return arr.copy()
        if arr.ndim != 1 or len(arr) != k * (k - 1) // 2:
            raise ValueError(
                "(num_features * (num_features - 1) / 2) correlation values are required for a flattened array or list"
            )
        r = np.zeros((k, k))
        r[np.triu_indices(k, 1)] = arr
        r = r + r.T
    np.fill_diagonal(r, 1.0)
    return r


def easy_multivariate_normal(
    num_obs: int,
    num_features: int,
    corrs: Any,
    mu: Any = 0.0,
    sigma: Any = 1.0,
    seed: Any = None,
    forcePSD: bool = True,
    return_new_corrs: bool = False,
    nit: int = 100,
) -> Any:
    """``num_obs`` draws (rows) of ``num_features`` normal variables with the
    given correlations (a matrix, its upper triangle, or one value for every
    pair), means ``mu`` and standard deviations ``sigma`` (scalars or one a
    feature): the covariance is D R D with D = diag(sigma).

    A correlation matrix that is not positive semi-definite is replaced by the
    nearest one (:func:`mixedmodels.utils.nearestPSD`, ``nit`` iterations)
    with a warning, or refused with ``forcePSD=False``. ``return_new_corrs``
    also returns the correlation matrix used.
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    mu = _per_feature(mu, num_features, "mu")
    sd = _per_feature(sigma, num_features, "sigma")
    r = _correlation_matrix(corrs, num_features)
    if not isPSD(r):
        if not forcePSD:
            raise ValueError(
                "Correlation matrix is not positive semi-definite; use forcePSD=True to use the nearest one that is"
            )
        if not return_new_corrs:
            warnings.warn(
                "Correlation matrix is not positive semi-definite: the nearest one that is was used "
                "(return_new_corrs=True returns it)",
                stacklevel=2,
            )
        r = nearestPSD(r, nit)
    cov = sd[:, None] * r * sd[None, :]
    x = rng.multivariate_normal(mu, cov, size=num_obs, method="eigh")
    return (x, r) if return_new_corrs else x


def _coefficients(coef_vals: Sequence[float] | None, num_coef: int, rng: np.random.Generator) -> np.ndarray:
    if coef_vals is None:
        return rng.random(num_coef + 1)
    if len(coef_vals) == num_coef:
        raise ValueError("Missing one coefficient value. Did you provide a value for the intercept term?")
    if len(coef_vals) != num_coef + 1:
        raise ValueError(f"coef_vals needs num_coef + 1 = {num_coef + 1} values (intercept first)")
    return np.asarray(coef_vals, dtype=float)


def _predictors(num_obs: int, num_coef: int, corrs: Any, mus: Any, sigmas: Any, rng: np.random.Generator) -> np.ndarray:
    mus = _per_feature(mus, num_coef, "mus")
    sigmas = _per_feature(sigmas, num_coef, "sigmas")
    if corrs is not None:
        return easy_multivariate_normal(num_obs, num_coef, corrs, mus, sigmas, seed=rng)
    return rng.normal(mus, sigmas, size=(num_obs, num_coef))


def _check_noise(noise_params: Any) -> tuple[float, float]:
    if not (isinstance(noise_params, tuple) and len(noise_params) == 2):
        raise ValueError("noise_params should be a tuple of (mean, std)")
    return float(noise_params[0]), float(noise_params[1])


def _response(eta: np.ndarray, family: str, rng: np.random.Generator) -> np.ndarray:
    if family == "binomial":
        return discrete_inverse_logit(eta, seed=rng).astype(float)
    if family != "gaussian":
        raise ValueError("family must be 'gaussian' or 'binomial'")
    return eta


def simulate_lm(
    num_obs: int,
    num_coef: int,
    coef_vals: Sequence[float] | None = None,
    corrs: Any = None,
    mus: Any = 0.0,
    sigmas: Any = 1.0,
    noise_params: tuple[float, float] = (0, 1),
    family: str = "gaussian",
    seed: Any = None,
) -> tuple[pl.DataFrame, np.ndarray]:
    """A regression data set: ``num_coef`` normal predictors ``IV1..IVk``
    (means ``mus``, sds ``sigmas``, correlations ``corrs``) and
    DV = b0 + X b + noise (``noise_params`` = (mean, sd)); with
    ``family="binomial"`` DV is a 0/1 draw with probability
    inverse-logit(b0 + X b + noise). ``coef_vals`` (intercept first) or random
    uniform ones. Returns the data and the coefficients."""
    rng = np.random.default_rng(seed)
    b = _coefficients(coef_vals, num_coef, rng)
    noise = _check_noise(noise_params)
    x = _predictors(num_obs, num_coef, corrs, mus, sigmas, rng)
    eta = b[0] + x @ b[1:] + rng.normal(noise[0], noise[1], size=num_obs)
    y = _response(eta, family, rng)
    data = pl.DataFrame({"DV": y, **{f"IV{j + 1}": x[:, j] for j in range(num_coef)}})
    return data, b


def simulate_lmm(
    num_obs: int,
    num_coef: int,
    num_grps: int,
    coef_vals: Sequence[float] | None = None,
    corrs: Any = None,
    grp_sigmas: Any = 0.25,
    mus: Any = 0.0,
    sigmas: Any = 1.0,
    noise_params: tuple[float, float] = (0, 1),
    family: str = "gaussian",
    seed: Any = None,
) -> tuple[pl.DataFrame, pl.DataFrame, np.ndarray]:
    """A multi-level data set: ``num_grps`` groups of ``num_obs`` rows. Each
    group's coefficients (its BLUPs) are normal around the population ones
    (``coef_vals``, intercept first) with sds ``grp_sigmas`` (one value or one
    a coefficient); each group draws its own predictors as :func:`simulate_lm`
    does and its response from its own coefficients.

    Returns the data (``DV, IV1..IVk, Group`` with groups 1..num_grps), the
    group coefficients (``Group, Intercept, IV1..IVk``) and the population
    coefficients.
    """
    rng = np.random.default_rng(seed)
    b = _coefficients(coef_vals, num_coef, rng)
    noise = _check_noise(noise_params)
    grp_sigmas = _per_feature(grp_sigmas, num_coef + 1, "grp_sigmas")
    blups = rng.normal(b, grp_sigmas, size=(num_grps, num_coef + 1))
    xs, ys = [], []
    for g in range(num_grps):
        x = _predictors(num_obs, num_coef, corrs, mus, sigmas, rng)
        eta = blups[g, 0] + x @ blups[g, 1:] + rng.normal(noise[0], noise[1], size=num_obs)
        xs.append(x)
        ys.append(_response(eta, family, rng))
    x_all, y_all = np.vstack(xs), np.concatenate(ys)
    names = [f"IV{j + 1}" for j in range(num_coef)]
    group = np.repeat(np.arange(1, num_grps + 1), num_obs)
    data = pl.DataFrame({"DV": y_all, **{n: x_all[:, j] for j, n in enumerate(names)}, "Group": group})
    blup_table = pl.DataFrame(
        {
            "Group": np.arange(1, num_grps + 1),
            "Intercept": blups[:, 0],
            **{n: blups[:, j + 1] for j, n in enumerate(names)},
        }
    )
    return data, blup_table, b
