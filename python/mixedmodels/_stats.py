"""Small statistical helpers shared by the model classes."""

from __future__ import annotations

import numpy as np
from scipy import stats

Z975 = float(stats.norm.ppf(0.975))


def significance(p: float) -> str:
    """R's significance stars (``printCoefmat``).

    R bins p-values with ``cut(p, c(0, .001, .01, .05, .1, 1), include.lowest=TRUE)``,
    whose intervals are closed on the right: p = 0.05 exactly earns ``*``.
    """
    if not np.isfinite(p):
        return ""
    for cutoff, stars in ((0.001, "***"), (0.01, "**"), (0.05, "*"), (0.1, ".")):
        if p <= cutoff:
            return stars
    return ""


def t_pvalues(t: np.ndarray, df: np.ndarray) -> np.ndarray:
    return 2.0 * stats.t.sf(np.abs(t), df)


def z_pvalues(z: np.ndarray) -> np.ndarray:
    return 2.0 * stats.norm.sf(np.abs(z))


def wald_interval(est: np.ndarray, se: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """lme4's confint(method = "Wald"): normal quantiles."""
    z = float(stats.norm.ppf(0.5 + level / 2))
    return est - z * se, est + z * se


def r_quantile(x: np.ndarray, probs: list[float]) -> np.ndarray:
    """R's default quantile (type 7)."""
    return np.quantile(np.asarray(x, dtype=float), probs)
