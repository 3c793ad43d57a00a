"""Small statistical helpers shared by the model classes."""

from __future__ import annotations

import numpy as np
from scipy import stats
from scipy.special import expit

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


def odds_ratio_columns(beta: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> dict[str, np.ndarray]:
    """pymer4's columns of a logit model's coefficient table: the odds ratios
    (``OR``) and probabilities (``Prob``) of the estimates and of their
    interval's ends. An enormous estimate (a separated fit) gives inf, not an
    overflow warning."""
    with np.errstate(over="ignore"):
        return {
            "OR": np.exp(beta),
            "OR_2.5_ci": np.exp(lower),
            "OR_97.5_ci": np.exp(upper),
            "Prob": expit(beta),
            "Prob_2.5_ci": expit(lower),
            "Prob_97.5_ci": expit(upper),
        }


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


def zapsmall(x: np.ndarray, digits: int = 7) -> np.ndarray:
    """R's ``zapsmall`` as R 4.2 defines it (the version the references were
    made with): ``round(x, max(0, digits - log10(mx)))`` for mx the largest
    absolute value, R's ``round`` taking the nearest whole number of digits.
    (R 4.4 uses ``digits - ceiling(log10(mx))``.) Negative zeros become zeros."""
    x = np.asarray(x, dtype=float)
    finite = x[np.isfinite(x)]
    if finite.size == 0:
        return x
    mx = float(np.max(np.abs(finite)))
    d = digits - np.log10(mx) if mx > 0 else digits
    return np.round(x, int(np.floor(max(0.0, d) + 0.5))) + 0.0
