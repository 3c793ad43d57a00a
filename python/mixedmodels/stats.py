"""Statistics helpers of pymer4's ``pymer4.stats``: effect sizes, permutation
and bootstrap tests, equivalence tests, fit statistics and multiple-comparison
corrections. scipy computes the test statistics; the resampling loops are
vectorised numpy, reproducible for a ``seed`` (``n_jobs`` is accepted for
pymer4 compatibility and not needed).

Where pymer4 0.8.2 computed something other than what its documentation
describes, these functions follow the documentation (see
``docs/for_pymer4_users.md``): paired Cohen's d is d_z = mean(x - y) / sd(x - y),
a paired permutation test flips the signs of the differences, and
``cohens_d(x, value=v)`` subtracts ``v`` for one sample too.

>>> import numpy as np
>>> from mixedmodels.stats import cohens_d, perm_test
>>> x, y = np.array([2.1, 2.5, 3.0, 2.8, 3.3]), np.array([1.2, 1.9, 2.2, 1.4, 2.0])
>>> round(cohens_d(x, y, n_boot=0), 4)
2.3046
>>> stat, p = perm_test(x, y, stat="mean", n_perm=999, seed=1)
>>> round(stat, 2), p < 0.05
(0.98, True)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import polars as pl
from scipy import stats as sps

from mixedmodels._stats import significance
from mixedmodels.compare import anova
from mixedmodels.lmer import Lmer

__all__ = [
    "boot_func",
    "cohens_d",
    "correct_pvals",
    "discrete_inverse_logit",
    "lrt",
    "perm_test",
    "rsquared",
    "rsquared_adj",
    "tost_equivalence",
    "vif",
    "welch_dof",
]

_PERM_STATS = ("tstat", "tstat-paired", "mean", "cohensd", "pearsonr", "spearmanr")


def _rng(seed: Any) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def _array(x: Any) -> np.ndarray:
    if isinstance(x, (pl.Series, list, tuple)) or hasattr(x, "to_numpy"):
        x = x.to_numpy() if hasattr(x, "to_numpy") else np.asarray(x)
    return np.asarray(x, dtype=float)


# ------------------------------------------------------------- effect sizes
def cohens_d(
    x: Any,
    y: Any = None,
    paired: bool = False,
    n_boot: int = 1000,
    equal_var: bool = False,
    value: float = 0,
    n_jobs: int = 1,
    seed: Any = None,
) -> float | tuple[float, tuple[float, float]]:
    """Cohen's d of one sample, two independent samples or paired samples.

    - one sample: (mean(x) - value) / sd(x);
    - paired: d_z = (mean(x - y) - value) / sd(x - y);
    - independent: (mean(x) - mean(y) - value) / s, with s the pooled standard
      deviation sqrt(((n1-1) s1^2 + (n2-1) s2^2) / (n1+n2-2)) by default and,
      with ``equal_var=True``, sqrt((s1^2 + s2^2) / 2) (pymer4's choices).

    With ``n_boot`` > 0 also returns the 95% percentile bootstrap interval
    ``(lower, upper)`` of ``n_boot`` resamples (pairs resampled together when
    ``paired``), reproducible for a ``seed``.
    """
    x = _array(x)
    y = None if y is None else _array(y)
    if paired and (y is None or len(x) != len(y)):
        raise ValueError(
            "with paired=True, both and x and y must be provided and must have the same number of observations"
        )
    eff = float(_cohens_d_rows(x[None, :], None if y is None else y[None, :], paired, equal_var, value)[0])
    if not n_boot:
        return eff
    rng = _rng(seed)
    n_boot = int(n_boot)
    if paired:
        assert y is not None
        idx = rng.integers(0, len(x), size=(n_boot, len(x)))
        boots = _cohens_d_rows(x[idx], y[idx], True, equal_var, value)
    else:
        xb = x[rng.integers(0, len(x), size=(n_boot, len(x)))]
        yb = None if y is None else y[rng.integers(0, len(y), size=(n_boot, len(y)))]
        boots = _cohens_d_rows(xb, yb, False, equal_var, value)
    lo, hi = np.percentile(boots, [2.5, 97.5])
    return eff, (float(lo), float(hi))


def _cohens_d_rows(x: np.ndarray, y: np.ndarray | None, paired: bool, equal_var: bool, value: float) -> np.ndarray:
    """Cohen's d of each row of x (and y)."""
    if y is None:
        return (x.mean(axis=1) - value) / x.std(axis=1, ddof=1)
    if paired:
        d = x - y
        return (d.mean(axis=1) - value) / d.std(axis=1, ddof=1)
    v1, v2 = x.var(axis=1, ddof=1), y.var(axis=1, ddof=1)
    n1, n2 = x.shape[1], y.shape[1]
    s = np.sqrt((v1 + v2) / 2) if equal_var else np.sqrt(((n1 - 1) * v1 + (n2 - 1) * v2) / (n1 + n2 - 2))
    return (x.mean(axis=1) - y.mean(axis=1) - value) / s


# ------------------------------------------------------- permutation tests
def perm_test(
    x: Any,
    y: Any = None,
    stat: str = "tstat",
    n_perm: int = 1000,
    equal_var: bool = False,
    tails: int = 2,
    return_dist: bool = False,
    n_jobs: int = 1,
    seed: Any = None,
) -> Any:
    """A permutation test of ``stat`` between x and y.

    ``stat``: ``"tstat"`` (two-sample t, Welch's unless ``equal_var``; with
    ``y`` None or a number, the one-sample t of x (minus y)), ``"tstat-paired"``,
    ``"mean"`` (difference of means, or the mean of x), ``"cohensd"``,
    ``"pearsonr"``, ``"spearmanr"``. Two independent samples are permuted
    between groups, one sample or paired differences get random signs, and for
    correlations y is permuted against x.

    The p-value is (k + 1) / (n_perm + 1), k the permutations whose statistic
    is at least as extreme: in absolute value (``tails=2``) or in the
    observed statistic's direction (``tails=1``). Returns ``(stat, p)``, or
    ``(stat, p, distribution)`` with ``return_dist``; with ``n_perm=0`` the
    parametric result (scipy's test result, or the statistic).
    """
    if stat not in _PERM_STATS:
        raise ValueError(f"stat must be in {list(_PERM_STATS)}")
    if tails not in (1, 2):
        raise ValueError("tails must be 1 or 2")
    x = _array(x)
    scalar_y = isinstance(y, (int, float, np.number)) and not isinstance(y, bool)
    if stat in ("pearsonr", "spearmanr") and (y is None or scalar_y):
        raise ValueError("y must be provided for 'pearsonr' or 'spearmanr'")
    if scalar_y:
        x, y = x - float(y), None
    y = None if y is None else _array(y)
    if stat in ("tstat-paired", "pearsonr", "spearmanr") and (y is None or len(x) != len(y)):
        raise ValueError("x and y must be the same length")
    if stat == "tstat-paired":
        assert y is not None
        x, y, stat = x - y, None, "tstat"
    if not n_perm:
        return _parametric(x, y, stat, equal_var)
    observed = float(_statistic(x[None, :], None if y is None else y[None, :], stat, equal_var)[0])
    xs, ys = _permutations(x, y, stat, int(n_perm), _rng(seed))
    dist = _statistic(xs, ys, stat, equal_var)
    if tails == 2:
        k = np.sum(np.abs(dist) >= abs(observed))
    elif observed >= 0:
        k = np.sum(dist >= observed)
    else:
        k = np.sum(dist <= observed)
    p = float((k + 1) / (len(dist) + 1))
    return (observed, p, dist) if return_dist else (observed, p)


def _permutations(
    x: np.ndarray, y: np.ndarray | None, stat: str, n: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray | None]:
    """n rearrangements of the data under the null, one a row."""
    if stat in ("pearsonr", "spearmanr"):
        assert y is not None
        return np.broadcast_to(x, (n, len(x))), rng.permuted(np.broadcast_to(y, (n, len(y))), axis=1)
    if y is None:
        return x * rng.choice([-1.0, 1.0], size=(n, len(x))), None
    pooled = rng.permuted(np.broadcast_to(np.concatenate([x, y]), (n, len(x) + len(y))), axis=1)
    return pooled[:, : len(x)], pooled[:, len(x) :]


def _statistic(x: np.ndarray, y: np.ndarray | None, stat: str, equal_var: bool) -> np.ndarray:
    """The statistic of each row."""
    if stat == "tstat":
        if y is None:
            return sps.ttest_1samp(x, 0.0, axis=1).statistic
        return sps.ttest_ind(x, y, axis=1, equal_var=equal_var).statistic
    if stat == "mean":
        return x.mean(axis=1) if y is None else x.mean(axis=1) - y.mean(axis=1)
    if stat == "cohensd":
        return _cohens_d_rows(x, y, False, equal_var, 0)
    assert y is not None
    if stat == "spearmanr":
        x, y = sps.rankdata(x, axis=1), sps.rankdata(y, axis=1)
    xc = x - x.mean(axis=1, keepdims=True)
    yc = y - y.mean(axis=1, keepdims=True)
    return (xc * yc).sum(axis=1) / np.sqrt((xc * xc).sum(axis=1) * (yc * yc).sum(axis=1))


def _parametric(x: np.ndarray, y: np.ndarray | None, stat: str, equal_var: bool) -> Any:
    if stat == "tstat":
        return sps.ttest_1samp(x, 0.0) if y is None else sps.ttest_ind(x, y, equal_var=equal_var)
    if stat == "pearsonr":
        return sps.pearsonr(x, y)
    if stat == "spearmanr":
        return sps.spearmanr(x, y)
    return float(_statistic(x[None, :], None if y is None else y[None, :], stat, equal_var)[0])


# -------------------------------------------------------------- bootstrap
def boot_func(
    x: Any,
    y: Any = None,
    func: Callable[..., Any] | None = None,
    func_args: dict[str, Any] | None = None,
    paired: bool = False,
    n_boot: int = 500,
    n_jobs: int = 1,
    seed: Any = None,
) -> Any:
    """Bootstrap any statistic ``func(x, y, **func_args)``: returns the
    statistic and its 95% percentile interval ``(lower, upper)`` over
    ``n_boot`` resamples (x and y resampled independently, or as pairs when
    ``paired``); just the statistic when ``n_boot`` is 0."""
    if not callable(func):
        raise TypeError("func must be a valid callable function")
    func_args = dict(func_args or {})
    x = _array(x)
    y = None if y is None else _array(y)
    original = func(x, y, **func_args)
    if not n_boot:
        return original
    if paired and (y is None or len(x) != len(y)):
        raise ValueError("paired resampling needs x and y of the same length")
    rng = _rng(seed)
    boots = []
    for _ in range(int(n_boot)):
        if paired:
            assert y is not None
            idx = rng.integers(0, len(x), size=len(x))
            xb, yb = x[idx], y[idx]
        else:
            xb = x[rng.integers(0, len(x), size=len(x))]
            yb = None if y is None else y[rng.integers(0, len(y), size=len(y))]
        boots.append(func(xb, yb, **func_args))
    lo, hi = np.percentile(np.asarray(boots, dtype=float), [2.5, 97.5], axis=0)
    return original, (lo, hi)


# ------------------------------------------------------------ equivalence
def tost_equivalence(
    x: Any,
    y: Any,
    lower: float,
    upper: float,
    paired: bool = False,
    equal_var: bool = False,
    n_perm: int = 1000,
    n_boot: int = 5000,
    plot: bool = False,
    seed: Any = None,
) -> dict[str, Any]:
    """Equivalence by two one-sided tests (TOST; Lakens 2017): is the mean
    difference of x and y inside ``(lower, upper)``?

    Each bound gets a one-sided t test (Welch's df unless ``equal_var``; the
    differences' one-sample test when ``paired``); the two-sided test of no
    difference is a permutation test (``n_perm``), and Cohen's d comes with a
    bootstrap interval (``n_boot``). Returns a dict: ``original``, ``lower``,
    ``upper`` (each ``m``, ``t``, ``p``), ``cohens_d`` (``m``, ``CI_lb``,
    ``CI_ub``), ``In_Equivalence_Range`` (both one-sided p < .05) and
    ``Means_Are_Different`` (two-sided p < .05). ``plot=True`` adds
    ``result["plot"]``, a matplotlib axis.
    """
    x, y = _array(x), _array(y)
    rng = _rng(seed)

    def t_against(bound: float) -> tuple[float, float]:
        if paired:
            d = x - y
            return (d.mean() - bound) / (d.std(ddof=1) / np.sqrt(len(d))), len(d) - 1.0
        n1, n2, v1, v2 = len(x), len(y), x.var(ddof=1), y.var(ddof=1)
        diff = x.mean() - y.mean() - bound
        if equal_var:
            df = n1 + n2 - 2.0
            pooled = ((n1 - 1) * v1 + (n2 - 1) * v2) / df
            return diff / np.sqrt(pooled * (1 / n1 + 1 / n2)), df
        a, b = v1 / n1, v2 / n2
        return diff / np.sqrt(a + b), (a + b) ** 2 / (a * a / (n1 - 1) + b * b / (n2 - 1))

    stat = "tstat-paired" if paired else "tstat"
    t_orig, p_orig = perm_test(x, y, stat=stat, n_perm=n_perm, equal_var=equal_var, seed=rng)
    t_lower, df = t_against(lower)
    t_upper, _ = t_against(upper)
    p_lower = float(sps.t.sf(t_lower, df))
    p_upper = float(sps.t.cdf(t_upper, df))
    mdiff = float(np.mean(x - y)) if paired else float(x.mean() - y.mean())
    d, (d_lo, d_hi) = cohens_d(x, y, paired=paired, n_boot=n_boot, equal_var=equal_var, seed=rng)  # type: ignore[misc]
    result: dict[str, Any] = {
        "original": {"m": mdiff, "t": t_orig, "p": p_orig},
        "lower": {"m": lower, "t": float(t_lower), "p": p_lower},
        "upper": {"m": upper, "t": float(t_upper), "p": p_upper},
        "cohens_d": {"m": d, "CI_lb": d_lo, "CI_ub": d_hi},
        "In_Equivalence_Range": bool(p_lower < 0.05 and p_upper < 0.05),
        "Means_Are_Different": bool(p_orig < 0.05),
    }
    if plot:
        result["plot"] = _equivalence_plot(x, y, lower, upper, paired, n_boot, rng)
    return result


def _equivalence_plot(
    x: np.ndarray, y: np.ndarray, lower: float, upper: float, paired: bool, n_boot: int, rng: np.random.Generator
) -> Any:
    import matplotlib.pyplot as plt

    def mean_diff(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.mean(a) - np.mean(b))

    m, (lb, ub) = boot_func(x, y, func=mean_diff, paired=paired, n_boot=n_boot, seed=rng)
    _, ax = plt.subplots(1, 1, figsize=(8, 6))
    ax.plot(m, 0, "o", markersize=18, color="black")
    ax.hlines(y=0, xmin=lb, xmax=ub, linestyle="-", linewidth=6)
    for bound in (lower, upper):
        ax.vlines(x=bound, ymin=-1, ymax=1, linestyles="--", linewidth=2)
    ax.vlines(x=0, ymin=-1, ymax=1, linestyles="--", linewidth=2, alpha=0.5)
    lo, hi = min(lb, lower), max(ub, upper)
    ax.set(xlim=(lo - abs(lo) / 2, hi + abs(hi) / 2), xlabel="Mean Difference", yticks=[])
    ax.set_title(f"Equivalence bounds [{lower}, {upper}]; mean difference {m:.3f} [{lb:.3f}, {ub:.3f}]")
    return ax


# ------------------------------------------------------- fit statistics
def rsquared(y: Any, res: Any, has_constant: bool = True) -> float:
    """R^2 = 1 - RSS / TSS (TSS about the mean when the model has an intercept)."""
    y, res = _array(y), _array(res)
    tss = np.sum((y - y.mean()) ** 2) if has_constant else np.sum(y**2)
    return float(1 - np.sum(res**2) / tss)


def rsquared_adj(r: float, nobs: int, df_res: float, has_constant: bool = True) -> float:
    """Adjusted R^2: 1 - (1 - R^2) (n - 1) / df_res (n / df_res without an
    intercept); NaN when ``df_res`` is not positive."""
    if df_res <= 0:
        return float("nan")
    return float(1 - (nobs - 1 if has_constant else nobs) / df_res * (1 - r))


def welch_dof(x: Any, y: Any) -> float:
    """The Welch-Satterthwaite degrees of freedom of two samples."""
    if not (isinstance(x, np.ndarray) and isinstance(y, np.ndarray)):
        raise TypeError("Both x and y must be 1d numpy arrays")
    a, b = x.var(ddof=1) / x.size, y.var(ddof=1) / y.size
    return float((a + b) ** 2 / (a * a / (x.size - 1) + b * b / (y.size - 1)))


def vif(
    df: Any, has_intercept: bool = True, exclude_intercept: bool = True, tol: float = 5.0, check_only: bool = False
) -> Any:
    """Variance inflation factors of the columns of a design matrix (polars,
    pandas or a 2-d array): the diagonal of the inverse correlation matrix.
    ``has_intercept``: the first column is a constant (left out when
    ``exclude_intercept``). Returns ``(high, all)`` dicts by column name, or
    only those at or above ``tol`` with ``check_only``."""
    if isinstance(df, np.ndarray):
        names = [f"x{i}" for i in range(df.shape[1])]
        values = np.asarray(df, dtype=float)
    elif isinstance(df, pl.DataFrame):
        names, values = list(df.columns), df.to_numpy().astype(float)
    elif hasattr(df, "columns") and hasattr(df, "to_numpy"):
        names, values = [str(c) for c in df.columns], df.to_numpy().astype(float)
    else:
        raise TypeError("input needs to be a polars or pandas DataFrame or a 2-d numpy array")
    if has_intercept:
        if not np.allclose(values[:, 0], values[0, 0]) or values[0, 0] == 0:
            raise ValueError("has_intercept is true, but first column does not appear to be a constant")
        if exclude_intercept:
            names, values = names[1:], values[:, 1:]
    corr = np.corrcoef(values, rowvar=False)
    try:
        vifs = np.diag(np.linalg.inv(np.atleast_2d(corr)))
    except np.linalg.LinAlgError:
        raise ValueError("Cannot compute vifs: the design matrix is singular") from None
    all_vifs = {n: float(v) for n, v in zip(names, vifs, strict=True)}
    high = {n: v for n, v in all_vifs.items() if v >= tol}
    return high if check_only else (high, all_vifs)


def discrete_inverse_logit(arr: Any, seed: Any = None) -> np.ndarray:
    """0/1 draws with probabilities inverse-logit(arr): Bernoulli classes from
    values on the logit scale."""
    return _rng(seed).binomial(1, sps.logistic.cdf(_array(arr)))


def correct_pvals(ps: Any, method: str = "holm") -> np.ndarray:
    """p-values corrected for multiple comparisons: ``"holm"`` (Holm-Bonferroni
    step-down) or ``"bonf"`` (Bonferroni), capped at 1 as R's ``p.adjust``."""
    if method == "holm-bonf":
        method = "holm"
    if method not in ("holm", "bonf"):
        raise ValueError("method must be one of ['holm', 'bonf']")
    p = _array(ps)
    if method == "bonf":
        return np.minimum(p * len(p), 1.0)
    order = np.argsort(p)
    adjusted = np.maximum.accumulate(p[order] * np.arange(len(p), 0, -1))
    out = np.empty_like(p)
    out[order] = np.minimum(adjusted, 1.0)
    return out


def lrt(models: Sequence[Any], refit: bool = True) -> pl.DataFrame:
    """Likelihood-ratio tests between nested :class:`~mixedmodels.Lmer` models
    (pymer4's ``lrt``): :func:`mixedmodels.anova` with pymer4's columns
    ``model`` (the formula), ``npar, AIC, BIC, log-likelihood, deviance,
    Chisq, Df, P-val, Sig``. Models are ordered by their number of parameters;
    with ``refit`` REML fits are compared as ML refits (copies)."""
    models = list(models) if isinstance(models, (list, tuple)) else [models]
    if len(models) < 2:
        raise ValueError("Must have 2 models to perform comparison")
    if not all(isinstance(m, Lmer) for m in models):
        raise TypeError("All models are not Lmer")
    table = anova(*models, refit=refit)
    return table.select(
        pl.col("formula").alias("model"),
        "npar",
        "AIC",
        "BIC",
        pl.col("logLik").alias("log-likelihood"),
        "deviance",
        "Chisq",
        "Df",
        "P-val",
        pl.col("P-val").map_elements(significance, return_dtype=pl.String).fill_null("").alias("Sig"),
    )
