"""Text summaries laid out as lme4/lmerTest print them.

The numbers are formatted as R formats them: each column (or block) with a
common number of decimals chosen from its values (``format(x, digits = 4)``,
R's ``formatReal``), the fixed-effects table as ``printCoefmat`` does
(estimates, standard errors and df rounded and formatted together, t values to
3 decimals, p-values by ``format.pval``, left-aligned stars), the random
effects as lme4's ``formatVC`` and the correlation labels by R's
``abbreviate()``. Trailing blanks, which R prints, are dropped.
"""

from __future__ import annotations

import decimal
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from mixedmodels._stats import r_quantile
from mixedmodels.mixed import group_labels

SIGNIF_LEGEND = "Signif. codes:  0 '***' 0.001 '**' 0.01 '*' 0.05 '.' 0.1 ' ' 1"
DIGITS = 4  # lme4's print.summary.merMod: max(3, getOption("digits") - 3)
EPS_PVALUE = float(np.finfo(float).eps)  # printCoefmat's eps.Pvalue
COR_MAX = 12  # getOption("lme4.summary.cor.max")
WIDTH = 80  # getOption("width")

_DEC = decimal.Context(prec=120, rounding=decimal.ROUND_HALF_EVEN)


# ------------------------------------------------------------ R's format()
def _scientific(x: float, digits: int) -> tuple[bool, int, int, bool]:
    """R's ``scientific()`` (format.c): the sign, the decimal exponent of x
    rounded to ``digits`` significant digits, the significant digits needed
    (trailing zeros dropped) and whether fixed notation needs one digit less
    left of the point than the exponent says (9996 with 3 digits)."""
    r = abs(x)
    if r == 0.0:
        return False, 0, 1, False
    kp = math.floor(math.log10(r)) - digits + 1
    scaled = _DEC.scaleb(decimal.Decimal(r), -kp)  # exact: r / 10^kp
    if scaled < 10 ** (digits - 1):
        scaled = _DEC.multiply(scaled, 10)
        kp -= 1
    alpha = int(scaled.to_integral_value(rounding=decimal.ROUND_HALF_EVEN))
    nsig = digits
    for _ in range(digits):
        if alpha % 10:
            break
        alpha //= 10
        nsig -= 1
    if nsig == 0:
        nsig = 1
        kp += 1
    kpower = kp + digits - 1
    rgt = min(max(digits - kpower, 0), 22)
    widens = 0 < kpower <= 22 and r < 10.0**kpower - 0.5 / 10.0**rgt
    return x < 0, kpower, nsig, widens


def _special(x: float) -> str:
    if math.isnan(x):
        return "NaN"
    return "Inf" if x > 0 else "-Inf"


def format_real(values: Sequence[float | None], digits: int = 7, nsmall: int = 0) -> list[str]:
    """R's ``format(x, digits = digits, nsmall = nsmall)`` of a numeric
    vector: a common number of decimals (or scientific notation when shorter),
    every string padded to a common width. None is R's NA."""
    xs = [None if v is None else float(v) + 0.0 for v in values]  # + 0.0: R prints -0 as 0
    finite = [v for v in xs if v is not None and math.isfinite(v)]
    others = ["NA" if v is None else _special(v) for v in xs if v is None or not math.isfinite(v)]
    width = max((len(s) for s in others), default=0)
    sci, dec = False, 0
    if finite:
        parts = [_scientific(v, digits) for v in finite]
        neg = any(p[0] for p in parts)
        rgt, mxsl, mxns = -(10**9), 1, 1
        mxe, mne = -(10**9), 10**9
        for is_neg, kpower, nsig, widens in parts:
            left = kpower + 1 - (1 if widens else 0)
            sleft = int(is_neg) + (left if left > 0 else 1)
            rgt = max(rgt, nsig - left)
            mxsl = max(mxsl, sleft)
            mxns = max(mxns, nsig)
            mxe, mne = max(mxe, kpower), min(mne, kpower)
        rgt = max(rgt, 0)
        w_fixed = mxsl + rgt + (1 if rgt else 0)
        e = 2 if (mxe >= 100 or mne <= -99) else 1
        d_sci = mxns - 1
        w_sci = int(neg) + (1 if d_sci > 0 else 0) + d_sci + 4 + e
        if w_fixed <= w_sci:
            dec = max(rgt, nsmall)
            width = max(width, mxsl + dec + (1 if dec else 0))
        else:
            sci, dec = True, d_sci
            width = max(width, w_sci)
    out = []
    for v in xs:
        if v is None:
            s = "NA"
        elif not math.isfinite(v):
            s = _special(v)
        elif sci:
            s = f"{v:.{dec}e}"
        else:
            s = f"{v:.{dec}f}"
        out.append(s.rjust(width))
    return out


def _round(x: float | None, ndigits: int) -> float | None:
    if x is None or not math.isfinite(x):
        return x
    return round(x, ndigits)


def format_pvalues(pv: Sequence[float], digits: int = 3, eps: float = EPS_PVALUE) -> list[str]:
    """R's ``format.pval(pv, digits, eps)``: values below ``eps`` as ``<eps``,
    the others formatted together (fixed and scientific ones apart)."""
    out = ["NA" if (p is None or math.isnan(p)) else "" for p in pv]
    idx = [i for i, p in enumerate(pv) if p is not None and not math.isnan(p)]
    small = [i for i in idx if pv[i] < eps]
    rest = [i for i in idx if pv[i] >= eps]
    expo = {i: math.floor(math.log10(pv[i])) if pv[i] > 0 else -50 for i in rest}
    fixp = [i for i in rest if expo[i] >= -3 or (expo[i] == -4 and digits > 1)]
    expp = [i for i in rest if i not in fixp]
    for group in (fixp, expp):
        for i, s in zip(group, format_real([pv[i] for i in group], digits), strict=True):
            out[i] = s
    if small:
        d = max(1, digits - 2)
        if rest:
            nc = max(len(out[i]) for i in rest)
            if d > 1 and d + 6 > nc:
                d = max(1, nc - 7)
            sep = "" if d == 1 and nc <= 6 else " "
        else:
            sep = "" if d == 1 else " "
        label = "<" + sep + format_real([eps], d)[0]
        for i in small:
            out[i] = label
    return out


def signif_stars(p: float | None) -> str:
    """symnum(p, cutpoints = c(0, .001, .01, .05, .1, 1)) as printCoefmat uses it."""
    if p is None or not math.isfinite(p):
        return ""
    for cut, sym in ((0.001, "***"), (0.01, "**"), (0.05, "*"), (0.1, ".")):
        if p <= cut:
            return sym
    return " "


# ------------------------------------------------------------ R's abbreviate()
def _isspace(c: str) -> bool:
    return c in " \t\n\v\f\r"


def _strip_chars(name: str, minlen: int) -> str:
    """R's C ``stripchars()`` (use.classes = TRUE) on an ASCII name: drop
    lower-case vowels at the end of words, then other lower-case vowels, then
    lower-case letters at the end of words, then other lower-case letters,
    then anything, each pass right to left, never a word's first character,
    until ``minlen`` characters are left."""
    s = [*name, "\0", "\0"]

    def length() -> int:
        return s.index("\0")

    def remove(i: int) -> None:
        del s[i]
        s.append("\0")

    nspace = 0

    def done() -> bool:
        return length() - nspace <= minlen

    def first(i: int) -> bool:
        return _isspace(s[i - 1])

    def last(i: int) -> bool:
        return not _isspace(s[i - 1]) and (s[i + 1] == "\0" or _isspace(s[i + 1]))

    def vowel(i: int) -> bool:
        return s[i] in "aeiou"

    def lower(i: int) -> bool:
        return "a" <= s[i] <= "z"

    finished = length() < minlen
    if not finished:
        trailing = True
        for i in range(length() - 1, 0, -1):
            if _isspace(s[i]):
                if trailing:
                    s[i] = "\0"
                else:
                    nspace += 1
            else:
                trailing = False
            if done():
                finished = True
                break
    passes = [
        lambda i: vowel(i) and last(i),
        lambda i: vowel(i) and not first(i),
        lambda i: lower(i) and last(i),
        lambda i: lower(i) and not first(i),
        lambda i: not first(i) and not _isspace(s[i]),
    ]
    for drop in passes:
        if finished:
            break
        for i in range(length() - 1, 0, -1):
            if drop(i):
                remove(i)
            if done():
                finished = True
                break
    upper = length()
    if upper > minlen:
        for i in range(upper - 1, 0, -1):
            if _isspace(s[i]):
                remove(i)
    return "".join(s[: length()])


def _abbreviate_once(names: list[str], minlength: int) -> list[str]:
    return [_strip_chars(n, minlength) if len(n) > minlength and n.isascii() else n for n in names]


def abbreviate(names: Sequence[str], minlength: int = 4) -> list[str]:
    """R's ``abbreviate(names, minlength)`` (method "left.kept"): each name
    shortened to ``minlength`` characters where it can be, lengthened again
    where abbreviations would clash."""
    old = [n.strip(" ") for n in names]
    uniq = list(dict.fromkeys(old))
    x = list(uniq)
    dup2 = [True] * len(uniq)
    these = list(uniq)
    while True:
        ans = _abbreviate_once(these, minlength)
        it = iter(ans)
        x = [next(it) if d else v for v, d in zip(x, dup2, strict=True)]
        seen: set[str] = set()
        dup2 = []
        for v in x:
            dup2.append(v in seen)
            seen.add(v)
        if not any(dup2):
            break
        minlength += 1
        clash = {v for v, d in zip(x, dup2, strict=True) if d}
        dup2 = [d or v in clash for v, d in zip(x, dup2, strict=True)]
        these = [n for n, d in zip(uniq, dup2, strict=True) if d]
    short = dict(zip(uniq, x, strict=True))
    return [short[n] for n in old]


# ------------------------------------------------------------ R's print of a matrix
def print_matrix(
    rows: list[list[str]],
    colnames: list[str],
    rownames: list[str] | None = None,
    right: bool = True,
    width: int = WIDTH,
) -> str:
    """A character matrix as R's ``print(m, quote = FALSE, right = right)``:
    row names left-aligned, columns one blank apart, aligned right or left
    (headers too), split into blocks of columns no wider than ``width``."""
    rownames = rownames if rownames is not None else [""] * len(rows)
    rw = max((len(r) for r in rownames), default=0)
    ncol = len(colnames)
    widths = [max([len(colnames[j])] + [len(r[j]) for r in rows]) for j in range(ncol)]
    blocks: list[list[int]] = []
    current: list[int] = []
    used = rw
    for j in range(ncol):
        if current and used + 1 + widths[j] > width:
            blocks.append(current)
            current, used = [], rw
        current.append(j)
        used += 1 + widths[j]
    if current or not blocks:
        blocks.append(current)

    def cell(s: str, w: int) -> str:
        return s.rjust(w) if right else s.ljust(w)

    lines = []
    for block in blocks:
        lines.append((" " * rw + "".join(" " + cell(colnames[j], widths[j]) for j in block)).rstrip())
        for name, r in zip(rownames, rows, strict=True):
            lines.append((name.ljust(rw) + "".join(" " + cell(r[j], widths[j]) for j in block)).rstrip())
    return "\n".join(lines)


def _named_vector(names: list[str], values: list[str]) -> str:
    """A named vector as R prints it: every field as wide as the widest."""
    w = max(len(s) for s in [*names, *values])
    return "\n".join(" ".join(s.rjust(w) for s in line).rstrip() for line in (names, values))


# ------------------------------------------------------------ the blocks
def random_effects_block(model: Any, residual: bool = True, digits: int = DIGITS) -> str:
    """The 'Random effects' table as lme4's formatVC and print show it:
    variances and standard deviations each formatted together, the
    correlations of each term to 2 decimals, columns left-aligned."""
    terms = model.random_terms
    labels = group_labels(terms)
    groups, names, variances, corr_rows = [], [], [], []
    q_max = max([len(t.cnames) for t in terms] + [1])
    for t, label in zip(terms, labels, strict=True):
        cov = np.asarray(t.covariance, dtype=float)
        q = cov.shape[0]
        sd = np.sqrt(np.clip(np.diag(cov), 0.0, None))
        with np.errstate(invalid="ignore", divide="ignore"):
            corr = cov / np.outer(sd, sd)
        np.fill_diagonal(corr, 1.0)
        cc = format_real([_round(float(v), 2) for v in corr.flatten()], 7, nsmall=2)
        for i, c in enumerate(t.cnames):
            groups.append(label if i == 0 else "")
            names.append(c)
            variances.append(float(cov[i, i]))
            corr_rows.append([cc[i * q + j] for j in range(i)] + [""] * (q_max - 1 - i))
    if residual:
        groups.append("Residual")
        names.append("")
        variances.append(float(model.sigma) ** 2)
        corr_rows.append([""] * (q_max - 1))
    var_s = format_real(variances, digits)
    sd_s = format_real([math.sqrt(v) if v >= 0 else float("nan") for v in variances], digits)
    rows = [[g, n, v, s, *c] for g, n, v, s, c in zip(groups, names, var_s, sd_s, corr_rows, strict=True)]
    header = ["Groups", "Name", "Variance", "Std.Dev."]
    if q_max > 1:
        header += ["Corr"] + [""] * (q_max - 2)
    return print_matrix(rows, header, right=False)


def coef_table(
    terms: list[str],
    estimate: Sequence[float],
    se: Sequence[float],
    stat: Sequence[float],
    stat_name: str = "t value",
    df: Sequence[float] | None = None,
    pvalues: Sequence[float] | None = None,
    digits: int = DIGITS,
) -> tuple[str, bool]:
    """The fixed-effects table as R's printCoefmat prints it; also whether
    stars (and so the legend) are shown."""
    n = len(terms)
    cs_cols = [list(estimate), list(se)] + ([list(df)] if df is not None else [])
    cs_cols = [[None if v is None else float(v) for v in col] for col in cs_cols]
    flat = [v for col in cs_cols for v in col]
    nonzero = [abs(v) for v in flat if v is not None and math.isfinite(v) and v != 0]
    # digits before the point of the smallest and largest |value| (1 when all are zero)
    digmin = [1 + math.floor(math.log10(v)) for v in (min(nonzero), max(nonzero))] if nonzero else [1]
    ndig = max([1] + [digits - d for d in digmin])
    cs_text = format_real([_round(v, ndig) for v in flat], digits)
    # printCoefmat: a non-zero value that rounds to zero is formatted again with digits - 1.
    fix = [k for k, v in enumerate(flat) if v is not None and math.isfinite(v) and (v == 0) != (float(cs_text[k]) == 0)]
    if fix:
        for k, s in zip(fix, format_real([flat[k] for k in fix], max(1, digits - 1)), strict=True):
            cs_text[k] = s
    cols = [cs_text[j * n : (j + 1) * n] for j in range(len(cs_cols))]
    dig_tst = max(1, min(5, digits - 1))
    cols.append(format_real([_round(float(v), dig_tst) for v in stat], digits))
    header = ["Estimate", "Std. Error"] + (["df"] if df is not None else []) + [stat_name]
    stars = False
    if pvalues is not None:
        p = [float(v) if v is not None else float("nan") for v in pvalues]
        ok = [i for i in range(n) if not math.isnan(p[i])]
        p_text = ["NA"] * n
        for i, s in zip(ok, format_pvalues([p[i] for i in ok], dig_tst), strict=True):
            p_text[i] = s
        cols.append(p_text)
        header.append("Pr(>|z|)" if stat_name == "z value" else "Pr(>|t|)")
        stars = any(p[i] < 0.1 for i in ok)
        if stars:
            sym = [signif_stars(v) for v in p]
            w = max(len(s) for s in sym)
            cols.append([s.ljust(w) for s in sym])
            header.append("")
    rows = [[col[i] for col in cols] for i in range(n)]
    return print_matrix(rows, header, rownames=list(terms), right=True), stars


def fixed_effects_block(coefs: Any, with_df: bool) -> tuple[str, bool]:
    """lmerTest's (with df and p-values) or lme4's fixed-effects table of
    ``coefs``, and whether it shows stars."""
    return coef_table(
        coefs["term"].to_list(),
        coefs["Estimate"].to_list(),
        coefs["SE"].to_list(),
        coefs["T-stat"].to_list(),
        df=coefs["DF"].to_list() if with_df else None,
        pvalues=coefs["P-val"].to_list() if with_df else None,
    )


def correlation_block(names: list[str], vcov: np.ndarray) -> str:
    """'Correlation of Fixed Effects' as lme4 prints it: rows labelled by
    abbreviate(names, 11), columns by abbreviate(names, 6), the lower
    triangle to 3 decimals, left-aligned."""
    p = len(names)
    if p < 2:
        return ""
    if p > COR_MAX:
        return f"Correlation matrix not shown by default, as p = {p} > {COR_MAX}.\nUse vcov() if you need it"
    vcov = np.asarray(vcov, dtype=float)
    sd = np.sqrt(np.diag(vcov))
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = vcov / np.outer(sd, sd)
    text = format_real([_round(float(v), 3) for v in corr.flatten(order="F")], 7, nsmall=3)
    rows_lab, cols_lab = abbreviate(names, 11), abbreviate(names, 6)
    rows = [[text[j * p + i] if j < i else "" for j in range(p - 1)] for i in range(1, p)]
    return "Correlation of Fixed Effects:\n" + print_matrix(rows, cols_lab[:-1], rownames=rows_lab[1:], right=False)


def residuals_block(res: np.ndarray, digits: int = DIGITS) -> str:
    """lme4's .prt.resids: quartiles zapped to digits + 1, printed with digits."""
    q = r_quantile(np.asarray(res, dtype=float)[np.isfinite(res)], [0, 0.25, 0.5, 0.75, 1])
    mx = float(np.max(np.abs(q)))
    zap = max(0, math.floor(digits + 1 - math.log10(mx) + 0.5)) if mx > 0 else digits + 1
    values = format_real([round(float(v), zap) for v in q], digits)
    return "Scaled residuals:\n" + _named_vector(["Min", "1Q", "Median", "3Q", "Max"], values)


def _aic_block(model: Any, df_resid: int) -> list[str]:
    """lme4's .prt.aictab for ML fits: values rounded to 1 decimal, formatted together."""
    names = ["AIC", "BIC", "logLik", "deviance", "df.resid"]
    vals = [round(v, 1) for v in (model.AIC, model.BIC, model.logLike, model.deviance)] + [float(df_resid)]
    text = format_real(vals, 7)
    text[-1] = str(df_resid)
    return _named_vector(names, text).splitlines()


def _groups_line(model: Any, nobs: int) -> str:
    groups = "; ".join(f"{g}, {n}" for g, n in (model.grps or {}).items())
    return f"Number of obs: {nobs}, groups:  {groups}"


# ------------------------------------------------------------ whole summaries
def lmer_summary(model: Any) -> str:
    with_df = model.coefs is not None and "DF" in model.coefs.columns
    fitted_by = "REML" if model.REML else "maximum likelihood "
    method = "Kenward-Roger's" if getattr(model, "ddf", "") == "Kenward-Roger" else "Satterthwaite's"
    tests = f". t-tests use {method} method" if with_df else ""
    out = [f"Linear mixed model fit by {fitted_by}{tests}", f"Formula: {model.formula}", ""]
    if model.REML:
        out.append(f"REML criterion at convergence: {format_real([round(model.deviance, 1)], 7)[0]}")
    else:
        out += _aic_block(model, model.nobs - model.npar)
    out.append("")
    # lme4's residuals(m, "pearson", scaled = TRUE); an out-of-core fit's stay with its rows
    if model.streamed:
        out.append("Scaled residuals: not computed (fitted out of core; model.residuals is a lazy frame)")
    else:
        out.append(residuals_block(np.asarray(model.residuals(type="pearson")) / model.sigma))
    out.append("")
    out.append("Random effects:")
    out.append(random_effects_block(model))
    out.append(_groups_line(model, model.nobs))
    out.append("")
    out.append("Fixed effects:")
    table, stars = fixed_effects_block(model.coefs, with_df)
    out.append(table)
    if stars:
        out.append("---")
        out.append(SIGNIF_LEGEND)
    corr = correlation_block(model.fixed_names, model.vcov)
    if corr:
        out.append("")
        out.append(corr)
    if model.warnings:
        out.append("")
        out.extend(model.warnings)
    return "\n".join(out)


def glmer_summary(model: Any) -> str:
    """lme4's summary of a glmerMod, as text."""
    method = "Laplace Approximation" if model.nAGQ == 1 else f"Adaptive Gauss-Hermite Quadrature, nAGQ = {model.nAGQ}"
    out = [
        f"Generalized linear mixed model fit by maximum likelihood ({method})",
        f" Family: {model.family_name}  ( {model.link} )",
        f"Formula: {model.formula}",
        "",
    ]
    names = ["AIC", "BIC", "logLik", "deviance", "df.resid"]
    df_resid = model.nobs - model.npar
    vals = [round(v, 1) for v in (model.AIC, model.BIC, model.logLike, -2 * model.logLike)] + [float(df_resid)]
    text = format_real(vals, 7)
    text[-1] = str(df_resid)
    out += [*_named_vector(names, text).splitlines(), ""]
    out.append(residuals_block(np.asarray(model.residuals(type="pearson")) / model.sigma))
    out += ["", "Random effects:", random_effects_block(model, residual=model.has_scale)]
    out.append(_groups_line(model, model.nobs))
    out += ["", "Fixed effects:"]
    coefs = model.coefs
    table, stars = coef_table(
        coefs["term"].to_list(),
        coefs["Estimate"].to_list(),
        coefs["SE"].to_list(),
        coefs["Z-stat"].to_list(),
        stat_name="z value",
        pvalues=coefs["P-val"].to_list(),
    )
    out.append(table)
    if stars:
        out += ["---", SIGNIF_LEGEND]
    corr = correlation_block(model.fixed_names, model.vcov)
    if corr:
        out += ["", corr]
    if model.warnings:
        out += ["", *model.warnings]
    return "\n".join(out)
