"""statsmodels' ``MixedLMResults.summary()``: the model's information in two
columns, then one table of the fixed effects (estimate, standard error, z test,
Wald interval) and the variance parameters (estimate and standard error)."""

from __future__ import annotations

import html
from typing import Any

import numpy as np
from scipy import stats

__all__ = ["Summary", "results_summary"]


class Summary:
    """A printable summary: ``title``, ``tables`` (the information table and
    the parameter table, pandas DataFrames of text), ``as_text()``, ``as_html()``."""

    def __init__(self, title: str, info: list[tuple[str, str]], table: Any) -> None:
        self.title = title
        self.info = info
        pd = _pandas()
        half = (len(info) + 1) // 2
        left, right = info[:half], info[half:] + [("", "")] * (2 * half - len(info))
        self.tables = [
            pd.DataFrame([[a, b, c, d] for (a, b), (c, d) in zip(left, right, strict=True)]),
            table,
        ]

    def as_text(self) -> str:
        info, table = self.tables
        info_lines = _align_rows([list(r) for r in info.itertuples(index=False)], right=set())
        header = ["", *map(str, table.columns)]
        rows = [[str(i), *map(str, r)] for i, r in zip(table.index, table.itertuples(index=False), strict=True)]
        table_lines = _align_rows([header, *rows], right=set(range(1, len(header))))
        width = max(len(line) for line in info_lines + table_lines)
        rule, thin = "=" * width, "-" * width
        lines = [
            self.title.center(width).rstrip(),
            rule,
            *info_lines,
            thin,
            table_lines[0],
            thin,
            *table_lines[1:],
            rule,
        ]
        return "\n".join(lines) + "\n"

    def as_html(self) -> str:
        info, table = self.tables
        info_html = "".join(
            "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>"
            for row in info.itertuples(index=False)
        )
        return (
            f"<div><p><b>{html.escape(self.title)}</b></p><table>{info_html}</table>"
            + table.to_html(escape=True)
            + "</div>"
        )

    def __str__(self) -> str:
        return self.as_text()

    def __repr__(self) -> str:
        return self.as_text()

    def _repr_html_(self) -> str:
        return self.as_html()


def _pandas() -> Any:
    import pandas

    return pandas


def _align_rows(rows: list[list[str]], right: set[int]) -> list[str]:
    widths = [max(len(r[j]) for r in rows) for j in range(len(rows[0]))]
    out = []
    for r in rows:
        cells = [c.rjust(w) if j in right else c.ljust(w) for j, (c, w) in enumerate(zip(r, widths, strict=True))]
        out.append(" ".join(cells))
    return out


def _fmt(x: float) -> str:
    return f"{x:.3f}" if np.isfinite(x) else ""


def results_summary(
    results: Any,
    yname: str | None = None,
    xname_fe: list[str] | None = None,
    xname_re: list[str] | None = None,
    title: str | None = None,
    alpha: float = 0.05,
) -> Summary:
    """The summary of a ``MixedLMResults``."""
    model = results.model
    names = list(results.param_names)
    k_fe = results.k_fe
    if xname_fe is not None:
        if len(xname_fe) != k_fe:
            raise ValueError(f"xname_fe should be a list of length {k_fe}")
        names[:k_fe] = xname_fe
    if xname_re is not None:
        if len(xname_re) != len(names) - k_fe:
            raise ValueError(f"xname_re should be a list of length {len(names) - k_fe}")
        names[k_fe:] = xname_re
    sizes = np.array([len(model.row_indices[g]) for g in model.group_labels])
    info = [
        ("Model:", "MixedLM"),
        ("No. Observations:", str(results.nobs)),
        ("No. Groups:", str(model.n_groups)),
        ("Min. group size:", f"{sizes.min():.0f}"),
        ("Max. group size:", f"{sizes.max():.0f}"),
        ("Mean group size:", f"{sizes.mean():.1f}"),
        ("Dependent Variable:", yname or model.endog_names),
        ("Method:", results.method),
        ("Scale:", f"{results.scale:.4f}"),
        ("Log-Likelihood:", f"{results.llf:.4f}"),
        ("Converged:", "Yes" if results.converged else "No"),
    ]
    cov = results._cov_params
    est = results.params_object.get_packed(use_sqrt=False, has_fe=True)
    se = np.sqrt(np.diag(cov))
    q = stats.norm.ppf(1 - alpha / 2)
    rows = []
    for i in range(len(names)):
        if i < k_fe:
            z = est[i] / se[i]
            p = 2 * stats.norm.sf(abs(z))
            rows.append([est[i], se[i], z, p, est[i] - q * se[i], est[i] + q * se[i]])
        else:
            # statsmodels shows the variance parameters on the data's scale, their errors times sqrt(scale)
            rows.append([est[i] * results.scale, np.sqrt(results.scale) * se[i], *[np.nan] * 4])
    columns = ["Coef.", "Std.Err.", "z", "P>|z|", f"[{alpha / 2}", f"{1 - alpha / 2}]"]
    table = _pandas().DataFrame([[_fmt(v) for v in r] for r in rows], index=names, columns=columns)
    return Summary(title or "Mixed Linear Model Regression Results", info, table)
