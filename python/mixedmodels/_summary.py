"""Text summaries laid out as lme4/lmerTest print them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from mixedmodels._stats import r_quantile

if TYPE_CHECKING:
    from mixedmodels.lmer import Lmer

SIGNIF_LEGEND = "Signif. codes:  0 '***' 0.001 '**' 0.01 '*' 0.05 '.' 0.1 ' ' 1"


def _fmt(x: float, digits: int = 4) -> str:
    """R-like formatting with `digits` significant digits."""
    if x is None or not np.isfinite(x):
        return "NA" if x is None or np.isnan(x) else ("Inf" if x > 0 else "-Inf")
    if x == 0:
        return "0"
    mag = int(np.floor(np.log10(abs(x))))
    if mag >= 15 or mag < -4:
        return f"{x:.{max(digits - 1, 0)}e}"
    decimals = max(digits - 1 - mag, 0)
    return f"{x:.{decimals}f}"


def format_pvalue(p: float) -> str:
    """R's format.pval with eps = 2e-16 and 3 significant digits."""
    if p is None or not np.isfinite(p):
        return "NA"
    if p < 2e-16:
        return "< 2e-16"
    if p < 1e-4:
        return f"{p:.2e}"
    return f"{p:.3g}" if p < 1 else "1"


def _table(rows: list[list[str]], header: list[str], align_left: int = 1) -> str:
    """Columns right-aligned (the first `align_left` left-aligned), as R prints matrices."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = []
    for r in [header, *rows]:
        cells = [c.ljust(w) if i < align_left else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))]
        lines.append(" ".join(cells).rstrip())
    return "\n".join(lines)


def random_effects_block(model: Any, residual: bool = True) -> str:
    """The 'Random effects' table of VarCorr (variances, SDs, correlations)."""
    rows = []
    terms = model._terms
    seen: set[str] = set()
    max_q = max(len(t["cnames"]) for t in terms)
    for t in terms:
        cov = np.asarray(t["covariance"])
        sd = np.sqrt(np.diag(cov))
        for i, c in enumerate(t["cnames"]):
            group = t["group"] if (i == 0 and t["group"] not in seen) or i == 0 else ""
            corr = []
            for j in range(i):
                denom = sd[i] * sd[j]
                corr.append(f"{cov[i, j] / denom:.2f}" if denom > 0 else "NaN")
            row = [group, c, _fmt(cov[i, i]), _fmt(sd[i])]
            if max_q > 1:
                row.append(" ".join(corr))
            rows.append(row)
        seen.add(t["group"])
    if residual:
        res = ["Residual", "", _fmt(model.sigma**2), _fmt(model.sigma)]
        if max_q > 1:
            res.append("")
        rows.append(res)
    header = ["Groups", "Name", "Variance", "Std.Dev."] + (["Corr"] if max_q > 1 else [])
    table = _table(rows, header, align_left=2)
    return "\n".join(" " + line for line in table.splitlines())


def fixed_effects_block(coefs: Any, with_df: bool) -> str:
    rows = []
    for r in coefs.iter_rows(named=True):
        row = [r["term"], _fmt(r["Estimate"]), _fmt(r["SE"])]
        if with_df:
            row += [_fmt(r["DF"]), f"{r['T-stat']:.3f}", format_pvalue(r["P-val"]), r["Sig"]]
        else:
            row += [f"{r['T-stat']:.3f}"]
        rows.append(row)
    header = ["", "Estimate", "Std. Error"] + (["df", "t value", "Pr(>|t|)", ""] if with_df else ["t value"])
    return _table(rows, header)


def correlation_block(names: list[str], vcov: np.ndarray) -> str:
    if len(names) < 2:
        return ""
    sd = np.sqrt(np.diag(vcov))
    corr = vcov / np.outer(sd, sd)
    short = [_abbreviate(n) for n in names]
    rows = []
    for i in range(1, len(names)):
        rows.append([short[i]] + [f"{corr[i, j]:.3f}" for j in range(i)] + [""] * (len(names) - 1 - i))
    header = ["", *short[:-1]]
    return "Correlation of Fixed Effects:\n" + _table(rows, header)


def _abbreviate(name: str, minlength: int = 6) -> str:
    """A short label as R's abbreviate() makes for the correlation table."""
    if len(name) <= minlength:
        return name
    keep = name[0] + "".join(c for c in name[1:] if c.lower() not in "aeiou" and c.isalnum())
    return keep[:minlength]


def lmer_summary(model: Lmer) -> str:
    f = model._fit
    with_df = model.coefs is not None and "DF" in model.coefs.columns
    fitted_by = "REML" if model.REML else "maximum likelihood "
    method = "Kenward-Roger's" if getattr(model, "ddf", "") == "Kenward-Roger" else "Satterthwaite's"
    tests = f". t-tests use {method} method" if with_df else ""
    out = [f"Linear mixed model fit by {fitted_by}{tests}", f"Formula: {model.formula}", ""]
    if model.REML:
        out.append(f"REML criterion at convergence: {model.deviance:.1f}")
    else:
        cols = ["AIC", "BIC", "logLik", "deviance", "df.resid"]
        vals = [f"{model.AIC:.1f}", f"{model.BIC:.1f}", f"{model.logLike:.1f}", f"{model.deviance:.1f}",
                str(f.nobs - f.npar)]
        w = max(len(v) for v in vals + cols) + 1
        out.append("".join(c.rjust(w) for c in cols))
        out.append("".join(v.rjust(w) for v in vals))
    out.append("")
    res = np.asarray(model.residuals) / model.sigma
    q = r_quantile(res, [0, 0.25, 0.5, 0.75, 1])
    out.append("Scaled residuals: ")
    out.append(_table([[f"{v:.4f}" for v in q]], ["Min", "1Q", "Median", "3Q", "Max"], align_left=0))
    out.append("")
    out.append("Random effects:")
    out.append(random_effects_block(model))
    groups = ", ".join(f"{g}, {n}" for g, n in (model.grps or {}).items())
    out.append(f"Number of obs: {f.nobs}, groups:  {groups}")
    out.append("")
    out.append("Fixed effects:")
    out.append(fixed_effects_block(model.coefs, with_df))
    if with_df:
        out.append("---")
        out.append(SIGNIF_LEGEND)
    corr = correlation_block(list(f.fixed_names), np.asarray(f.vcov))
    if corr:
        out.append("")
        out.append(corr)
    if model.warnings:
        out.append("")
        out.extend(model.warnings)
    return "\n".join(out)


def glmer_summary(model: Any) -> str:
    """lme4's summary of a glmerMod, as text."""
    f = model._fit
    method = ("Laplace Approximation" if model.nAGQ == 1
              else f"Adaptive Gauss-Hermite Quadrature, nAGQ = {model.nAGQ}")
    family = {"gamma": "Gamma", "inverse_gaussian": "inverse.gaussian"}.get(model.family, model.family)
    out = [f"Generalized linear mixed model fit by maximum likelihood ({method})",
           f" Family: {family}  ( {model.link} )", f"Formula: {model.formula}", ""]
    cols = ["AIC", "BIC", "logLik", "deviance", "df.resid"]
    vals = [f"{model.AIC:.1f}", f"{model.BIC:.1f}", f"{model.logLike:.1f}", f"{-2 * model.logLike:.1f}",
            str(f.nobs - f.npar)]
    w = max(len(v) for v in vals + cols) + 1
    out += ["".join(c.rjust(w) for c in cols), "".join(v.rjust(w) for v in vals), ""]
    res = np.asarray(model.residuals(type="pearson")) / model.sigma
    q = r_quantile(res, [0, 0.25, 0.5, 0.75, 1])
    out.append("Scaled residuals: ")
    out.append(_table([[f"{v:.4f}" for v in q]], ["Min", "1Q", "Median", "3Q", "Max"], align_left=0))
    out += ["", "Random effects:", random_effects_block(model, residual=f.has_scale)]
    groups = ", ".join(f"{g}, {n}" for g, n in (model.grps or {}).items())
    out.append(f"Number of obs: {f.nobs}, groups:  {groups}")
    out += ["", "Fixed effects:"]
    rows = [[r["term"], _fmt(r["Estimate"]), _fmt(r["SE"]), f"{r['Z-stat']:.3f}", format_pvalue(r["P-val"]), r["Sig"]]
            for r in model.coefs.iter_rows(named=True)]
    out.append(_table(rows, ["", "Estimate", "Std. Error", "z value", "Pr(>|z|)", ""]))
    out += ["---", SIGNIF_LEGEND]
    corr = correlation_block(list(f.fixed_names), np.asarray(f.vcov))
    if corr:
        out += ["", corr]
    if model.warnings:
        out += ["", *model.warnings]
    return "\n".join(out)
