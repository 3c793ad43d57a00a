"""How a fitted model shows itself: ``repr()`` (a few lines: formula, rows,
groups, criterion, convergence) and ``_repr_html_`` for notebooks (the same,
then the random-effects and coefficient tables, whole, whatever polars'
display settings)."""

from __future__ import annotations

import html as _html
from typing import Any

import polars as pl

__all__ = ["html", "text_lines"]


def _criterion(model: Any) -> str:
    if model.logLike is None:
        return "no likelihood"
    if model.is_mixed and not model.is_generalized and model.REML:
        return f"REML criterion {model.deviance:.2f}"
    return f"logLik {model.logLike:.2f}, AIC {model.AIC:.2f}"


def _method(model: Any) -> str:
    if not model.is_mixed:
        return "maximum likelihood (IRLS)" if model.is_generalized else "least squares"
    if model.is_generalized:
        n = getattr(model, "nAGQ", 1)
        return "Laplace approximation" if n == 1 else f"adaptive Gauss-Hermite quadrature (nAGQ = {n})"
    return "REML" if model.REML else "maximum likelihood"


def _state(model: Any) -> str:
    opt = model.optsummary if model.is_mixed else {}
    parts = ["converged" if opt.get("converged", True) else f"NOT converged ({opt.get('status', '')})"]
    if opt:
        gradients = f" ({opt['geval']} with the gradient)" if opt.get("geval") else ""
        parts.append(f"{opt.get('optimizer', 'optimizer')}, {opt.get('feval', '?')} evaluations{gradients}")
    if getattr(model, "singular", False):
        parts.append("boundary (singular) fit")
    if model.warnings:
        parts.append(f"{len(model.warnings)} warning{'s' if len(model.warnings) > 1 else ''}")
    return "; ".join(parts)


def _head(model: Any) -> str:
    extra = f", family={model.family!r}, link={model.link!r}" if model.is_generalized else ""
    return f"{type(model).__name__}({model.formula!r}{extra})"


def text_lines(model: Any) -> list[str]:
    """The plain ``repr`` of a fitted model."""
    groups = ", ".join(f"{g} {n}" for g, n in (model.grps or {}).items()) if model.is_mixed else ""
    rows = f"{model.nobs} observations" + (f"; groups: {groups}" if groups else "")
    return [f"{_head(model)}  fitted by {_method(model)}", f"  {rows}", f"  {_criterion(model)}; {_state(model)}"]


def _table_html(table: pl.DataFrame) -> str:
    with pl.Config(tbl_rows=-1, tbl_cols=-1, fmt_str_lengths=200):
        return table._repr_html_()


def html(model: Any) -> str:
    """The notebook display of a model: the plain lines, then its tables."""
    if not model.fitted:
        return f"<pre>{_html.escape(repr(model))}</pre>"
    lines = text_lines(model)
    out = [f"<div><p><b>{_html.escape(lines[0])}</b><br>{_html.escape(lines[1].strip())}<br>"]
    out.append(f"{_html.escape(lines[2].strip())}</p>")
    if model.is_mixed and model.ranef_var is not None:
        out.append("<p>Random effects</p>" + _table_html(model.ranef_var))
    out.append("<p>Fixed effects</p>" + _table_html(model.coefs))
    for w in model.warnings:
        out.append(f"<p><i>warning: {_html.escape(w)}</i></p>")
    out.append("</div>")
    return "".join(out)


def optimizer_report(model: Any) -> str:
    """The optimizer's record as lines (``fit(verbose=True)``)."""
    opt = dict(model.optsummary) if model.is_mixed else {}
    if not opt:
        return "no optimizer: the estimates are closed-form"

    def numbers(values: Any) -> str:
        return "[" + ", ".join(f"{float(v):.6g}" for v in values) + "]"

    lines = [f"optimizer: {opt.pop('optimizer', '?')}, {opt.pop('feval', '?')} evaluations of the criterion"]
    gradients = opt.pop("geval", 0)
    if gradients:
        lines[0] += f", {gradients} of them with its gradient"
    derivative = opt.pop("derivative_evaluations", 0)
    if derivative:
        lines[0] += f" (and {derivative} for the derivatives at the optimum)"
    if "initial" in opt:
        lines.append(f"start:  theta = {numbers(opt.pop('initial'))}")
    if "final" in opt:
        lines.append(
            f"end:    theta = {numbers(opt.pop('final'))}, criterion {float(opt.pop('fmin', float('nan'))):.6f}"
        )
    converged = opt.pop("converged", True)
    lines.append(f"status: {'converged' if converged else 'NOT converged'}: {opt.pop('status', '')}")
    lines += [f"{key}: {value}" for key, value in opt.items()]
    return "\n".join(lines)
