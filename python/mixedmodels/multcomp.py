"""Multiplicity adjustments for families of t tests, as emmeans applies them.

Two entry points, one a family of contrasts (one ``by`` group):

- :func:`adjusted_pvalues`: p-values of t ratios under an adjustment
  (``tukey``, ``sidak``, ``scheffe``, ``dunnettx``, ``mvt`` and R's
  ``p.adjust`` methods ``holm``, ``hochberg``, ``hommel``, ``bonferroni``,
  ``BH``/``fdr``, ``BY``, ``none``);
- :func:`critical_values`: the multiplier of the SE giving adjusted
  confidence intervals. emmeans has no interval for the step-wise
  ``p.adjust`` methods and uses Bonferroni's there.

The rules follow emmeans 1.8 (``.adj.p.value``, ``.adj.critval``): a family
of one contrast is not adjusted (except by Scheffe); Tukey applies only to a
complete set of pairwise comparisons, otherwise Sidak is used; ``dunnettx``
is Sidak-Tukey's approximation to Dunnett's quantiles; ``mvt`` integrates
the multivariate t of the contrasts (emmeans calls mvtnorm with the df
rounded to an integer; this module does the same, with a quasi-Monte-Carlo
integration of its own).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats
from scipy.stats import qmc

from mixedmodels._stats import zapsmall
from mixedmodels.exceptions import DataError

# p.adjust methods (emmeans passes them through to R's p.adjust).
STEPWISE = ("holm", "hochberg", "hommel", "BH", "BY")
METHODS = ("tukey", "sidak", "scheffe", "dunnettx", "mvt", "bonferroni", "none", *STEPWISE)

_ALIASES = {
    "bonf": "bonferroni",
    "bonferroni": "bonferroni",
    "fdr": "BH",
    "bh": "BH",
    "by": "BY",
    "dunnet": "dunnettx",
    "dunnett": "dunnettx",
    "dunnettx": "dunnettx",
}

MVT_POINTS = 2**14
MVT_SEED = 20240611


def normalize_adjust(name: str) -> str:
    """The canonical name of an adjustment (``bonf`` -> ``bonferroni``, ``fdr`` -> ``BH``, ...)."""
    if not isinstance(name, str):
        raise DataError(f"p_adjust must be a string, not {type(name).__name__}")
    key = name.strip()
    low = key.lower()
    if low in _ALIASES:
        return _ALIASES[low]
    if low in METHODS:
        return low
    choices = (
        "tukey, bonf (bonferroni), holm, hochberg, hommel, fdr (BH), BY, sidak, dunnet (dunnettx), mvt, scheffe, none"
    )
    raise DataError(f"p_adjust '{name}' is not a known adjustment; use one of: {choices}")


@dataclass(frozen=True)
class Family:
    """What the adjustment of one family needs to know.

    ``size`` is emmeans' family size (the number of means compared), ``pairs``
    whether the contrasts are all pairwise differences of those means (Tukey
    is valid only then), ``corr`` the correlation matrix of the contrasts
    (``mvt``) and ``rank`` the rank of their coefficients (Scheffe).
    """

    size: int
    pairs: bool
    corr: np.ndarray | None = None
    rank: int = 1


def effective_method(method: str, n_contrasts: int, family: Family, for_interval: bool = False) -> str:
    """The adjustment emmeans actually applies to a family of ``n_contrasts``."""
    if for_interval and method in STEPWISE:
        method = "bonferroni"
    if n_contrasts == 1 and method != "scheffe":
        return "none"
    if method == "tukey" and not family.pairs:
        return "sidak"
    return method


# ------------------------------------------------------------------ p-values
def adjusted_pvalues(t: np.ndarray, df: np.ndarray, method: str, family: Family) -> np.ndarray:
    """Two-sided p-values of the t ratios of one family, adjusted by ``method``.

    A NaN t (a non-estimable contrast) gets a NaN p-value but still counts in
    the family size of the Bonferroni-type methods, as in emmeans; ``mvt``
    takes ``family.corr`` to be the correlation of the finite t ratios only."""
    t = np.asarray(t, dtype=float)
    df = np.where(np.isnan(np.asarray(df, dtype=float)), np.inf, np.asarray(df, dtype=float))
    n = t.size
    method = effective_method(method, n, family)
    abst = np.abs(t)
    unadj = 2.0 * stats.t.sf(abst, df)
    if method in ("none", "bonferroni", *STEPWISE):
        return p_adjust(unadj, method, n=n)
    if method == "sidak":
        return 1.0 - (1.0 - unadj) ** n
    if method == "tukey":
        return ptukey_upper(np.sqrt(2.0) * abst, family.size, zapsmall(df))
    if method == "scheffe":
        r = family.rank
        return f_sf(t**2 / r, r, df)
    if method == "dunnettx":
        return 1.0 - pdunnx(abst, n, df)
    if method == "mvt":
        if family.corr is None:
            raise ValueError("mvt adjustment needs the correlation of the contrasts")
        out = np.full(n, np.nan)
        finite = np.flatnonzero(np.isfinite(t))
        m = finite.size
        for i in finite:
            c = abst[i]
            out[i] = 1.0 - pmvt_box(np.full(m, -c), np.full(m, c), family.corr, mvt_df(df[i]))
        return out
    raise ValueError(f"unknown adjustment {method}")


def critical_values(
    level: float, df: np.ndarray, method: str, family: Family, n_contrasts: int | None = None
) -> np.ndarray:
    """Multipliers of the SE for two-sided intervals at ``level`` of the contrasts
    with degrees of freedom ``df``, in a family of ``n_contrasts`` (default: as
    many as ``df``; emmeans counts the non-estimable ones too)."""
    df = np.where(np.isnan(np.asarray(df, dtype=float)), np.inf, np.asarray(df, dtype=float))
    n = df.size if n_contrasts is None else int(n_contrasts)
    method = effective_method(method, n, family, for_interval=True)
    if method == "none":
        return stats.t.ppf(0.5 + level / 2.0, df)
    if method == "sidak":
        return -stats.t.ppf((1.0 - level ** (1.0 / n)) / 2.0, df)
    if method == "bonferroni":
        return -stats.t.ppf((1.0 - level) / n / 2.0, df)
    if method == "tukey":
        return qtukey(level, family.size, df) / np.sqrt(2.0)
    if method == "scheffe":
        r = family.rank
        return np.sqrt(r * f_ppf(level, r, df))
    if method == "dunnettx":
        return qdunnx(level, n, df)
    if method == "mvt":
        if family.corr is None:
            raise ValueError("mvt adjustment needs the correlation of the contrasts")
        idf = np.array([mvt_df(d) for d in df])
        if np.all(idf == idf[0]):
            return np.full(df.size, qmvt_box(level, family.corr, int(idf[0])))
        return np.array([qmvt_box(level, family.corr, int(d)) for d in idf])
    raise ValueError(f"unknown adjustment {method}")


def describe(method: str, n_contrasts: int, family: Family, for_interval: bool = False) -> str | None:
    """emmeans' note on the adjustment of a family (None when there is none)."""
    used = effective_method(method, n_contrasts, family, for_interval)
    if used == "none" or (family.size < 3 and used in ("tukey", "scheffe")):
        return None
    head = "Conf-level adjustment" if for_interval else "P value adjustment"
    name = {"BH": "fdr"}.get(used, used)
    if used == "tukey":
        extra = f"for comparing a family of {family.size} estimates"
    elif used == "scheffe":
        extra = f"with rank {family.rank}"
    else:
        extra = f"for {n_contrasts} {'estimates' if for_interval else 'tests'}"
    return f"{head}: {name} method {extra}"


# --------------------------------------------------------------- p.adjust
def p_adjust(p: np.ndarray, method: str, n: int | None = None) -> np.ndarray:
    """R's ``p.adjust`` (missing values kept, ``n`` defaults to their number)."""
    p0 = np.asarray(p, dtype=float).copy()
    keep = ~np.isnan(p0)
    q = p0[keep]
    lp = q.size
    if n is None:
        n = lp
    if n < lp:
        raise ValueError("n must be at least the number of p-values")
    if n <= 1 or method == "none":
        return p0
    if n == 2 and method == "hommel":
        method = "hochberg"
    if method == "bonferroni":
        out = np.minimum(1.0, n * q)
    elif method == "holm":
        o = np.argsort(q, kind="stable")
        i = np.arange(1, lp + 1)
        out = np.empty(lp)
        out[o] = np.minimum(1.0, np.maximum.accumulate((n + 1 - i) * q[o]))
    elif method in ("hochberg", "BH", "BY"):
        o = np.argsort(-q, kind="stable")
        i = np.arange(lp, 0, -1)
        if method == "hochberg":
            factor = (n + 1 - i).astype(float)
        elif method == "BH":
            factor = n / i
        else:
            factor = np.sum(1.0 / np.arange(1, n + 1)) * n / i
        out = np.empty(lp)
        out[o] = np.minimum(1.0, np.minimum.accumulate(factor * q[o]))
    elif method == "hommel":
        out = _hommel(q, n)
    else:
        raise ValueError(f"unknown p.adjust method {method}")
    p0[keep] = out
    return p0


def _hommel(p: np.ndarray, n: int) -> np.ndarray:
    lp = p.size
    if n > lp:
        p = np.concatenate([p, np.ones(n - lp)])
    i = np.arange(1, n + 1)
    o = np.argsort(p, kind="stable")
    p = p[o]
    ro = np.argsort(o, kind="stable")
    q = np.full(n, np.min(n * p / i))
    pa = q.copy()
    for j in range(n - 1, 1, -1):
        ij = np.arange(0, n - j + 1)
        i2 = np.arange(n - j + 1, n)
        q1 = np.min(j * p[i2] / np.arange(2, j + 1))
        q[ij] = np.minimum(j * p[ij], q1)
        q[i2] = q[n - j]
        pa = np.maximum(pa, q)
    res = np.maximum(pa, p)
    return res[ro[:lp]] if lp < n else res[ro]


# ------------------------------------------------------- distributions
# The F distribution with infinite denominator df (asymptotic inference: GLMMs, lme4's
# ddf) is chi-square(d1) / d1, where scipy's F gives NaN.
def f_sf(x: np.ndarray, d1: float, d2: np.ndarray) -> np.ndarray:
    """Upper tail of F(d1, d2), d2 possibly infinite."""
    x, d2 = np.broadcast_arrays(np.asarray(x, dtype=float), np.asarray(d2, dtype=float))
    return np.where(np.isinf(d2), stats.chi2.sf(x * d1, d1), stats.f.sf(x, d1, np.where(np.isinf(d2), 1.0, d2)))


def f_cdf(x: np.ndarray, d1: float, d2: np.ndarray) -> np.ndarray:
    """Lower tail of F(d1, d2), d2 possibly infinite."""
    x, d2 = np.broadcast_arrays(np.asarray(x, dtype=float), np.asarray(d2, dtype=float))
    return np.where(np.isinf(d2), stats.chi2.cdf(x * d1, d1), stats.f.cdf(x, d1, np.where(np.isinf(d2), 1.0, d2)))


def f_ppf(p: float | np.ndarray, d1: float, d2: np.ndarray) -> np.ndarray:
    """Quantile of F(d1, d2), d2 possibly infinite."""
    p, d2 = np.broadcast_arrays(np.asarray(p, dtype=float), np.asarray(d2, dtype=float))
    return np.where(np.isinf(d2), stats.chi2.ppf(p, d1) / d1, stats.f.ppf(p, d1, np.where(np.isinf(d2), 1.0, d2)))


def ptukey_upper(q: np.ndarray, nmeans: float, df: np.ndarray) -> np.ndarray:
    """Upper tail of the studentized range (R's ``ptukey(..., lower.tail = FALSE)``)."""
    q, df = np.broadcast_arrays(np.asarray(q, dtype=float), np.asarray(df, dtype=float))
    out = np.full(q.shape, np.nan)
    for idx in np.ndindex(q.shape):
        if np.isfinite(q[idx]):
            out[idx] = stats.studentized_range.sf(q[idx], nmeans, _srange_df(df[idx]))
    return out


def qtukey(p: float, nmeans: float, df: np.ndarray) -> np.ndarray:
    """Quantile of the studentized range (R's ``qtukey``), elementwise in ``df``.

    The first distinct df is solved by scipy; the others by secant steps from
    the nearest solved one (the quantile moves little with df), which needs a
    few cdf evaluations instead of scipy's dozen."""
    df = np.atleast_1d(np.asarray(df, dtype=float))
    solved: dict[float, float] = {}
    out = np.empty(df.shape)
    for i, d in enumerate(df):
        if d not in solved:
            solved[d] = _qtukey_near(p, nmeans, d, solved)
        out[i] = solved[d]
    return out


def _qtukey_near(p: float, nmeans: float, df: float, solved: dict[float, float]) -> float:
    sdf = _srange_df(df)
    if not solved or not np.isfinite(df):
        return float(stats.studentized_range.ppf(p, nmeans, sdf))
    near = min(solved, key=lambda d: abs(d - df))

    def f(q: float) -> float:
        return float(stats.studentized_range.cdf(q, nmeans, sdf)) - p

    q0, q1 = solved[near], solved[near] * (1.0 + 1e-4)
    f0, f1 = f(q0), f(q1)
    for _ in range(20):
        if f1 == f0:
            break
        q2 = q1 - f1 * (q1 - q0) / (f1 - f0)
        q0, f0 = q1, f1
        q1 = q2
        if abs(q1 - q0) <= 1e-12 * abs(q1):
            return q1
        f1 = f(q1)
    return float(stats.studentized_range.ppf(p, nmeans, sdf))


def _srange_df(df: float) -> float:
    # scipy's studentized range treats large df poorly; R switches to df = Inf above 25000.
    return df if df <= 25000 else np.inf


def pdunnx(x: np.ndarray, k: int, df: np.ndarray) -> np.ndarray:
    """emmeans' ``.pdunnx``: a weighted mix of Tukey and Sidak probabilities."""
    twt = (k - 1) / k
    nm = (1.0 + np.sqrt(1.0 + 8.0 * k)) / 2.0
    tukey = 1.0 - ptukey_upper(np.sqrt(2.0) * np.asarray(x, dtype=float), nm, df)
    sidak = f_cdf(np.asarray(x, dtype=float) ** 2, 1, df) ** k
    return twt * tukey + (1.0 - twt) * sidak


def qdunnx(p: float, k: int, df: np.ndarray) -> np.ndarray:
    """emmeans' ``.qdunnx``: root of ``pdunnx`` between the Tukey and Sidak quantiles
    (tolerance 5e-4, as R's ``uniroot`` there)."""
    df = np.atleast_1d(np.asarray(df, dtype=float))
    if k < 1.005:
        return stats.t.ppf(1.0 - 0.5 * (1.0 - p), df)
    nm = (1.0 + np.sqrt(1.0 + 8.0 * k)) / 2.0
    xtuk = qtukey(p, nm, df) / np.sqrt(2.0)
    xsid = np.sqrt(f_ppf(p ** (1.0 / k), 1, df))
    out = np.empty(df.shape)
    for i, d in enumerate(df):
        lo, hi = float(xtuk[i]), float(xsid[i])
        if abs(hi - lo) < 5e-4:
            out[i] = lo
            continue

        def fcn(x: float, d: float = d) -> float:
            return float(pdunnx(np.array([x]), k, np.array([d]))[0]) - p

        try:
            out[i] = optimize.brentq(fcn, lo, hi, xtol=5e-4, rtol=4 * np.finfo(float).eps)
        except ValueError:
            out[i] = lo
    return out


# ---------------------------------------------------------- multivariate t
def mvt_df(df: float) -> int:
    """emmeans' ``.fix.df`` then ``as.integer``: df for mvtnorm (0 = normal)."""
    if not np.isfinite(df) or df > 9999:
        return 0
    if df > 0:
        df = max(1.0, df)
    return int(np.floor(df + 0.25))


def pmvt_box(
    lower: np.ndarray, upper: np.ndarray, corr: np.ndarray, df: int, n_points: int = MVT_POINTS, seed: int = MVT_SEED
) -> float:
    """P(lower <= T <= upper) for a central multivariate t with correlation ``corr``
    (``df = 0``: normal). Genz's separation of variables with scrambled Sobol
    points; a singular ``corr`` is handled as mvtnorm does (dependent rows bound
    the variable they depend on last)."""
    return float(_BoxIntegrator(corr, df, n_points, seed).probability(lower, upper))


def qmvt_box(level: float, corr: np.ndarray, df: int, n_points: int = MVT_POINTS, seed: int = MVT_SEED) -> float:
    """c with P(-c <= T <= c) = level (mvtnorm's ``qmvt(tail = "both.tails")``)."""
    k = corr.shape[0]
    integ = _BoxIntegrator(corr, df, n_points, seed)

    def f(c: float) -> float:
        return float(integ.probability(np.full(k, -c), np.full(k, c))) - level

    lo = float(stats.t.ppf(0.5 + level / 2.0, df) if df > 0 else stats.norm.ppf(0.5 + level / 2.0))
    hi = float(-stats.t.ppf((1.0 - level) / k / 2.0, df) if df > 0 else -stats.norm.ppf((1.0 - level) / k / 2.0))
    lo, hi = lo * 0.999, hi * 1.001 + 1e-9
    return float(optimize.brentq(f, lo, hi, xtol=1e-10))


class _BoxIntegrator:
    """Fixed quasi-random points for box probabilities of one distribution, so that
    the probability is a smooth deterministic function of the limits."""

    def __init__(self, corr: np.ndarray, df: int, n_points: int, seed: int) -> None:
        corr = np.asarray(corr, dtype=float)
        self.chol, self.last = _singular_cholesky(corr)
        self.active = self.last >= 0
        r = self.chol.shape[1]
        self.df = int(df)
        dim = r + (1 if self.df > 0 else 0)
        m = int(np.ceil(np.log2(max(n_points, 2))))
        self.w = qmc.Sobol(d=max(dim, 1), scramble=True, seed=seed).random_base2(m)
        if self.df > 0:
            chi = stats.chi2.ppf(self.w[:, r], self.df)
            self.scale = np.sqrt(chi / self.df)
        else:
            self.scale = np.ones(self.w.shape[0])

    def probability(self, lower: np.ndarray, upper: np.ndarray) -> float:
        lower = np.asarray(lower, dtype=float)
        upper = np.asarray(upper, dtype=float)
        chol, last = self.chol, self.last
        r = chol.shape[1]
        npts = self.w.shape[0]
        s = self.scale
        y = np.zeros((npts, r))
        f = np.ones(npts)
        for j in range(r):
            lo = np.full(npts, -np.inf)
            hi = np.full(npts, np.inf)
            for i in np.flatnonzero(last == j):
                shift = y[:, :j] @ chol[i, :j]
                c = chol[i, j]
                a = (lower[i] * s - shift) / c
                b = (upper[i] * s - shift) / c
                if c < 0:
                    a, b = b, a
                lo = np.maximum(lo, a)
                hi = np.minimum(hi, b)
            d = stats.norm.cdf(lo)
            e = stats.norm.cdf(hi)
            width = np.clip(e - d, 0.0, None)
            f = f * width
            u = np.clip(d + self.w[:, j] * width, 1e-300, 1 - 1e-16)
            y[:, j] = stats.norm.ppf(u)
        return float(np.mean(f))


def _singular_cholesky(corr: np.ndarray, tol: float = 1e-10) -> tuple[np.ndarray, np.ndarray]:
    """L (k x r) with L L' = corr, built row by row; a row whose residual variance
    vanishes adds no column. ``last[i]`` is the column that row i's constraint
    acts on (its last non-zero coefficient; -1 for a zero row)."""
    k = corr.shape[0]
    cols: list[np.ndarray] = []
    rows = np.zeros((k, k))
    last = np.full(k, -1)
    for i in range(k):
        r = len(cols)
        coef = np.zeros(k)
        for j in range(r):
            pivot_row = int(cols[j][0])
            coef[j] = (corr[i, pivot_row] - coef[:j] @ rows[pivot_row, :j]) / rows[pivot_row, j]
        rows[i, :r] = coef[:r]
        resid = corr[i, i] - coef[:r] @ coef[:r]
        if resid > tol * max(corr[i, i], 1e-300):
            rows[i, r] = np.sqrt(resid)
            cols.append(np.array([i]))
            last[i] = r
        else:
            nz = np.flatnonzero(np.abs(coef[:r]) > 1e-8 * max(np.sqrt(corr[i, i]), 1e-300))
            last[i] = int(nz[-1]) if nz.size else -1
    return rows[:, : len(cols)], last
