"""Estimated marginal means, trends and their contrasts: R's emmeans for ``Lmer``.

``post_hoc(model, "Evit")`` is ``emmeans(m, ~ Evit, lmer.df = "satterthwaite")``
and ``pairs(..., adjust = "tukey")``; ``grouping_vars`` is emmeans' ``by``
(``~ Evit | Cu``) and ``trend = "Time"`` is ``emtrends(m, ~ Evit, var = "Time")``.

The reference grid is emmeans' default: every factor of the fixed part at all
its levels, a numeric covariate at its mean over the rows of the fit, except a
covariate with at most two distinct values (kept at both, like a factor) and a
variable the formula turns into a factor (``factor(x)``: its distinct values).
Marginal means average the grid rows with equal weights over everything that
is not a marginal or grouping variable. Trends are emmeans' forward difference
of the linear predictor with step ``0.001 * range(var)``. Degrees of freedom of
every linear function of the fixed effects are Satterthwaite's (the core's
``contrast_df``); adjustments are in :mod:`mixedmodels.multcomp`.

Generalized models (:class:`~mixedmodels.glmer.Glmer`) get emmeans' asymptotic
inference for a ``glmerMod``: z tests (df = Inf) on the link scale. With
``type="response"`` the marginal means are back-transformed (delta-method SEs,
intervals back-transformed from the link scale) and, for the log and logit
links, pairwise contrasts become ratios ``A / B`` of the back-transformed
means (rate ratios, odds ratios), with the z tests of the link scale; for the
other links contrasts stay on the link scale, as emmeans leaves them. An
offset in the formula enters the means at its average over the rows of the
fit (emmeans' ``.offset.`` covariate).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
from scipy import stats

from mixedmodels import _core
from mixedmodels import multcomp as mc
from mixedmodels._frame import factor_levels
from mixedmodels._stats import significance
from mixedmodels._table import result_table
from mixedmodels.exceptions import DataError

CONTRAST_METHODS = ("pairwise", "trt.vs.ctrl")
# emmeans wraps a level label in parentheses in contrast names when it holds one of these.
_PARENS = re.compile(r"-|\+|/|\*")
_COERCE = ("factor", "as.factor", "ordered", "as.ordered")


# ------------------------------------------------------------------ public
def post_hoc(
    model: Any,
    marginal_vars: str | Sequence[str],
    grouping_vars: str | Sequence[str] | None = None,
    p_adjust: str = "tukey",
    summarize: bool = True,
    level: float = 0.95,
    trend: str | None = None,
    contrasts: str = "pairwise",
    type: str = "link",
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Marginal estimates and their contrasts, as emmeans computes them.

    ``marginal_vars``: a factor name or several (their level combinations);
    ``grouping_vars``: factors to condition on (emmeans' ``by``: separate
    families per level); ``trend``: a numeric variable whose slope is estimated
    instead of the mean (emtrends). ``contrasts``: ``"pairwise"`` (all pairs)
    or ``"trt.vs.ctrl"`` (each level minus the first). ``p_adjust``: ``tukey``,
    ``bonf``, ``holm``, ``hochberg``, ``hommel``, ``fdr``, ``sidak``,
    ``dunnet``, ``mvt``, ``scheffe`` or ``none``; confidence intervals of
    contrasts are adjusted as emmeans adjusts them (Bonferroni for the
    step-wise methods).

    ``type`` (generalized models): ``"link"`` (emmeans' default: the linear
    predictor's scale) or ``"response"`` (means back-transformed; for the log
    and logit links contrasts become ratios). Trends stay on the link scale,
    as emtrends' do. For a linear mixed model both types give the same tables.

    Returns ``(estimates, contrasts)``, polars DataFrames with columns
    ``<vars>, Estimate, 2.5_ci, 97.5_ci, SE, DF`` and ``Contrast, <grouping
    vars>, Estimate, 2.5_ci, 97.5_ci, SE, DF, T-stat, P-val, Sig`` (``Z-stat``
    instead of ``T-stat`` for a generalized model, whose DF are infinite);
    when ``summarize``, both are printed with emmeans' notes.
    """
    res = marginal_analysis(model, marginal_vars, grouping_vars, p_adjust, level, trend, contrasts, type)
    if summarize:
        print(res.text())
    return result_table(res.estimates), result_table(res.contrasts)


@dataclass
class PostHocResult:
    """Both tables with emmeans' notes (the df method, the adjustments used)."""

    estimates: pl.DataFrame
    contrasts: pl.DataFrame
    notes_estimates: list[str]
    notes_contrasts: list[str]
    title_estimates: str = "Estimated marginal means"
    title_contrasts: str = "Pairwise contrasts"

    def text(self) -> str:
        with pl.Config(
            tbl_rows=-1,
            tbl_cols=-1,
            tbl_hide_dataframe_shape=True,
            tbl_width_chars=200,
            fmt_str_lengths=80,
            tbl_hide_column_data_types=True,
        ):
            parts = [
                self.title_estimates,
                str(self.estimates),
                *filter(None, self.notes_estimates),
                "",
                self.title_contrasts,
                str(self.contrasts),
                *filter(None, self.notes_contrasts),
            ]
        return "\n".join(parts)


def marginal_analysis(
    model: Any,
    marginal_vars: str | Sequence[str],
    grouping_vars: str | Sequence[str] | None = None,
    p_adjust: str = "tukey",
    level: float = 0.95,
    trend: str | None = None,
    contrasts: str = "pairwise",
    type: str = "link",
) -> PostHocResult:
    """:func:`post_hoc` without printing; the result keeps emmeans' notes."""
    _check_model(model)
    if type not in ("link", "response"):
        raise DataError(f"type must be 'link' or 'response', not {type!r}")
    specs = _names(marginal_vars, "marginal_vars")
    by = _names(grouping_vars, "grouping_vars") if grouping_vars is not None else []
    if not specs:
        raise DataError("marginal_vars: give at least one variable")
    method = mc.normalize_adjust(p_adjust)
    if not isinstance(level, (int, float)) or not 0 < level < 1:
        raise DataError(f"level must be a number between 0 and 1, not {level!r}")
    if contrasts not in CONTRAST_METHODS:
        raise DataError(f"contrasts must be one of {', '.join(CONTRAST_METHODS)}, not {contrasts!r}")
    grid = ReferenceGrid.from_model(model)
    grid.check_marginal(specs, by, trend)
    linfct = grid.trend_linfct(trend) if trend is not None else grid.linfct()
    fam_vars = [*specs, *by]
    labels, weights = grid.average(fam_vars)
    inference = _Inference(model)
    scale = _Scale.of(model, type, trend is not None)
    emm_lf = linfct.combine(weights)
    emm = inference.rows(emm_lf)
    if trend is None:
        emm["Estimate"] = emm["Estimate"] + grid.offset()
    level_cols = _level_columns(grid, fam_vars, labels)
    est_table = _estimate_table(level_cols, emm, level, scale)
    notes_est = [inference.df_note, scale.means_note, f"Confidence level used: {level:g}", scale.means_back_note]
    averaged = grid.averaged_over(fam_vars)
    if averaged:
        notes_est.insert(0, "Results are averaged over the levels of: " + ", ".join(averaged))
    con_table, notes_con = _contrast_table(grid, specs, by, labels, emm_lf, inference, method, level, contrasts, scale)
    if averaged:
        notes_con.insert(0, "Results are averaged over the levels of: " + ", ".join(averaged))
    title = "Estimated marginal means" if trend is None else f"Estimated marginal trends of {trend}"
    if by:
        title += " by " + ", ".join(by)
    title += scale.means_title
    con_title = "Pairwise contrasts" if contrasts == "pairwise" else "Contrasts with the first level (trt.vs.ctrl)"
    if scale.ratios:
        con_title = con_title.replace("contrasts", scale.ratio_name + "s").replace("Contrasts", "Ratios")
    if by:
        con_title += " within each level of " + ", ".join(by)
    return PostHocResult(
        est_table, con_table, [n for n in notes_est if n], [n for n in notes_con if n], title, con_title
    )


# ---------------------------------------------------------- the grid
@dataclass
class GridVariable:
    """One predictor of the fixed part on the reference grid.

    ``kind``: ``factor`` (a non-numeric column), ``coerced`` (numeric turned
    into a factor by the formula), ``kept`` (numeric with <= 2 distinct values,
    emmeans' ``cov.keep``) or ``covariate`` (numeric, at its mean).
    """

    name: str
    kind: str
    values: list[Any]

    @property
    def is_factor_like(self) -> bool:
        return self.kind != "covariate"

    @property
    def numeric(self) -> bool:
        return self.kind != "factor"


@dataclass
class Linear:
    """Linear functions of the fixed effects, one a row: ``x`` on the estimated
    coefficients; ``full`` on every column of R's X and the null basis of the
    data's X when the fit dropped columns (else None)."""

    x: np.ndarray
    full: np.ndarray | None = None
    null_basis: np.ndarray | None = None

    def combine(self, m: np.ndarray) -> Linear:
        """The functions ``m @ self`` (rows of m weight the rows of self)."""
        return Linear(m @ self.x, None if self.full is None else m @ self.full, self.null_basis)

    def estimable(self) -> np.ndarray:
        if self.full is None or self.null_basis is None:
            return np.ones(self.x.shape[0], dtype=bool)
        return _is_estimable(self.full, self.null_basis)


class ReferenceGrid:
    """emmeans' reference grid of a fitted Lmer: variables, grid rows and X."""

    def __init__(
        self,
        model: Any,
        data: pl.DataFrame,
        variables: list[GridVariable],
        needed: list[str],
        levels_all: dict[str, list[str]],
    ) -> None:
        self.model = model
        self.data = data
        self.variables = variables
        self.by_name = {v.name: v for v in variables}
        self.needed = needed
        self.levels_all = levels_all
        self.frame = self._expand()
        self._data_basis: tuple[list[str], np.ndarray] | None = None

    @classmethod
    def from_model(cls, model: Any) -> ReferenceGrid:
        data = model.fit_frame
        needed = model.columns_read(response=False, groups=False)
        exprs = [v for t in model.fixed_terms for v in t.variables]
        fixed = [c for c in needed if any(_mentions(e, c) for e in exprs)]
        variables = []
        levels_all: dict[str, list[str]] = {}
        for name in fixed:
            s = data.get_column(name)
            if s.dtype.is_numeric():
                uniq = sorted(set(s.cast(pl.Float64).drop_nulls().drop_nans().to_list()))
                if any(_coerced(e, name) for e in exprs):
                    variables.append(GridVariable(name, "coerced", uniq))
                elif len(uniq) <= 2:
                    variables.append(GridVariable(name, "kept", uniq))
                else:
                    variables.append(GridVariable(name, "covariate", [float(np.mean(s.cast(pl.Float64).to_numpy()))]))
            else:
                full = factor_levels(s)
                # the levels the fit's rows use: an Enum's unused categories are not in the model
                present = set(s.cast(pl.String).drop_nulls().unique().to_list())
                levels_all[name] = full
                variables.append(GridVariable(name, "factor", [lv for lv in full if lv in present]))
        return cls(model, data, variables, needed, levels_all)

    # grid rows: expand.grid over the variables (the first varies fastest)
    def _expand(self) -> pl.DataFrame:
        if not self.variables:
            return pl.DataFrame({"(grid)": [0]})
        combos = list(itertools.product(*[v.values for v in reversed(self.variables)]))
        cols: dict[str, Any] = {}
        for j, v in enumerate(reversed(self.variables)):
            vals = [c[j] for c in combos]
            if v.kind == "factor":
                cols[v.name] = pl.Series(v.name, vals, dtype=pl.Enum(self.levels_all[v.name]))
            else:
                cols[v.name] = pl.Series(v.name, vals, dtype=pl.Float64)
        return pl.DataFrame({v.name: cols[v.name] for v in self.variables})

    def check_marginal(self, specs: list[str], by: list[str], trend: str | None) -> None:
        model_vars = [v.name for v in self.variables]
        for role, names in (("marginal_vars", specs), ("grouping_vars", by)):
            for name in names:
                self._check_known(name, role, model_vars)
                v = self.by_name[name]
                if not v.is_factor_like:
                    hint = f"; use trend='{name}' for its slope" if trend is None else ""
                    raise DataError(
                        f"{role}: '{name}' is a numeric covariate (held at its mean on the reference grid), "
                        f"not a factor{hint}, or convert it to a factor (string or Enum column) before fitting"
                    )
        seen = [*specs, *by]
        dup = {n for n in seen if seen.count(n) > 1}
        if dup:
            raise DataError(
                f"variable(s) given more than once in marginal_vars/grouping_vars: {', '.join(sorted(dup))}"
            )
        if trend is not None:
            if not isinstance(trend, str):
                raise DataError(f"trend must be a variable name, not {type(trend).__name__}")
            self._check_known(trend, "trend", model_vars)
            if not self.by_name[trend].numeric or self.by_name[trend].kind == "coerced":
                raise DataError(f"trend: '{trend}' is a factor; a trend needs a numeric variable")
            if trend in seen:
                raise DataError(f"trend: '{trend}' cannot also be a marginal or grouping variable")

    def _check_known(self, name: str, role: str, model_vars: list[str]) -> None:
        if not isinstance(name, str):
            raise DataError(f"{role}: variable names must be strings, not {type(name).__name__}")
        if name in self.by_name:
            return
        if name in self.model.columns_read():
            raise DataError(
                f"{role}: '{name}' is not a predictor of the fixed effects "
                f"(it is the response or a grouping factor); the fixed part uses: {', '.join(model_vars) or 'none'}"
            )
        raise DataError(
            f"{role}: '{name}' is not a variable of the model; the fixed part uses: {', '.join(model_vars) or 'none'}"
        )

    def averaged_over(self, fam_vars: list[str]) -> list[str]:
        return [v.name for v in self.variables if v.is_factor_like and len(v.values) > 1 and v.name not in fam_vars]

    # X of the grid
    def _matrix(self, frame: pl.DataFrame) -> np.ndarray:
        return self.model.fixed_design(frame)

    def _complete(self, frame: pl.DataFrame) -> pl.DataFrame:
        """Add the variables the fixed part lists but does not use (held at anything)."""
        extra = {}
        for c in self.needed:
            if c not in frame.columns:
                s = self.data.get_column(c)
                extra[c] = pl.Series(c, [s[0]] * frame.height, dtype=s.dtype)
        return frame.with_columns(**extra) if extra else frame

    def linfct(self) -> Linear:
        return self._linear(self._complete(self.frame))

    def offset(self) -> float:
        """The offset of the grid rows: emmeans treats an ``offset()`` of the
        formula as one more covariate (``.offset.``) held at its mean over the
        rows of the fit. 0 without an offset."""
        return float(np.mean(self.model.offset))

    def trend_step(self, var: str) -> float:
        x = self.data.get_column(var).cast(pl.Float64)
        return 0.001 * float(x.max() - x.min())  # type: ignore[operator]

    def trend_linfct(self, var: str) -> Linear:
        """emtrends' forward difference of the grid's linear predictor in ``var``."""
        h = self.trend_step(var)
        if h == 0:
            raise DataError(f"trend: '{var}' is constant in the data; no slope can be estimated")
        base = self._complete(self.frame)
        at = self._linear(base)
        moved = self._linear(base.with_columns(pl.col(var) + h))
        return Linear((moved.x - at.x) / h, None if at.full is None else (moved.full - at.full) / h, at.null_basis)

    def _linear(self, frame: pl.DataFrame) -> Linear:
        """X of the grid rows; for a rank-deficient fit also the full X (every
        column, as R builds it before dropping) and the null basis of the data's
        full X, to tell estimable functions from the others."""
        x = self._matrix(frame)
        if not self._has_dropped_columns():
            return Linear(x)
        full_grid, names = self._full_matrix(frame)
        if self._data_basis is None:
            full_data, names_data = self._full_matrix(self.data)
            self._data_basis = (names_data, _null_basis(full_data))
        names_data, basis = self._data_basis
        if names != names_data:
            return Linear(x)
        return Linear(x, full_grid, basis)

    def _has_dropped_columns(self) -> bool:
        """Whether the fit dropped columns of X (rank deficiency)."""
        return bool(self.model.dropped_columns)

    def _full_matrix(self, frame: pl.DataFrame) -> tuple[np.ndarray, list[str]]:
        x, names, _ = self.model.full_design(frame)
        return x, names

    # marginal averaging
    def average(self, fam_vars: list[str]) -> tuple[list[tuple[Any, ...]], np.ndarray]:
        """Combinations of ``fam_vars`` (the first varies fastest) and the matrix
        averaging the grid rows of each with equal weights."""
        combos_rev = list(itertools.product(*[self.by_name[v].values for v in reversed(fam_vars)]))
        combos = [tuple(reversed(c)) for c in combos_rev]
        index = {c: i for i, c in enumerate(combos)}
        keys = list(zip(*[self.frame.get_column(v).to_list() for v in fam_vars], strict=True))
        w = np.zeros((len(combos), self.frame.height))
        for r, key in enumerate(keys):
            w[index[key], r] = 1.0
        w /= w.sum(axis=1, keepdims=True)
        return combos, w


# ---------------------------------------------------------- inference
class _Inference:
    """Estimate, SE and Satterthwaite df of linear functions of the fixed effects."""

    def __init__(self, model: Any) -> None:
        self.core = model.core
        self.beta = model.beta
        self.vcov = model.vcov
        self.glmm = model.is_generalized
        self.has_df = not self.glmm and model.ddf != "lme4"
        self.stat = "Z-stat" if self.glmm else "T-stat"
        # emmeans gives a glmerMod asymptotic (z) inference without a note on the df
        self.df_note: str | None = (
            None
            if self.glmm
            else "Degrees-of-freedom method: satterthwaite"
            if self.has_df
            else "Degrees-of-freedom method: asymptotic (the model was fitted without Satterthwaite df)"
        )

    def rows(self, lf: Linear) -> dict[str, np.ndarray]:
        """Non-estimable functions get NaN, as emmeans' NA."""
        n = lf.x.shape[0]
        est = np.full(n, np.nan)
        se = np.full(n, np.nan)
        df = np.full(n, np.nan)
        ok = lf.estimable()
        zero = ~np.any(lf.x, axis=1)  # e.g. trends that do not differ: emmeans reports 0 (SE 0) and no df
        est[ok & zero] = se[ok & zero] = 0.0
        test = np.flatnonzero(ok & ~zero)
        if test.size:
            x = lf.x[test]
            est[test] = x @ self.beta
            se[test] = np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", x, self.vcov, x), 0.0))
            df[test] = self.core.contrast_df(x.tolist()) if self.has_df else np.inf
        return {"Estimate": est, "SE": se, "DF": df}


def _ci_names(level: float) -> tuple[str, str]:
    lo = (1.0 - level) / 2.0 * 100.0
    return f"{_num(lo)}_ci", f"{_num(100.0 - lo)}_ci"


def _num(x: float) -> str:
    return f"{round(x, 10):g}"


def _estimate_table(
    level_cols: dict[str, pl.Series], r: dict[str, np.ndarray], level: float, scale: _Scale
) -> pl.DataFrame:
    cv = stats.t.ppf(0.5 + level / 2.0, np.where(np.isnan(r["DF"]), np.inf, r["DF"]))
    lo_name, hi_name = _ci_names(level)
    est, se = r["Estimate"], r["SE"]
    lo, hi = est - cv * se, est + cv * se
    if scale.back_transform:
        # emmeans: the mean and its interval through the inverse link, the SE by the delta method
        link = scale.link
        est, se = _core.link_inverse(link, est), np.abs(_core.link_mu_eta(link, est)) * se
        lo, hi = _core.link_inverse(link, lo), _core.link_inverse(link, hi)
        lo, hi = np.fmin(lo, hi), np.fmax(lo, hi)
    return pl.DataFrame(
        {
            **level_cols,
            "Estimate": est,
            lo_name: lo,
            hi_name: hi,
            "SE": se,
            "DF": r["DF"],
        }
    )


def _level_columns(grid: ReferenceGrid, names: list[str], combos: list[tuple[Any, ...]]) -> dict[str, pl.Series]:
    return {name: _level_series(grid, name, [c[j] for c in combos]) for j, name in enumerate(names)}


def _level_series(grid: ReferenceGrid, name: str, values: list[Any]) -> pl.Series:
    if grid.by_name[name].kind == "factor":
        return pl.Series(name, [str(v) for v in values], dtype=pl.String)
    return pl.Series(name, values, dtype=pl.Float64)


def _label(grid: ReferenceGrid, names: list[str], combo: tuple[Any, ...]) -> str:
    """emmeans' level label: values pasted with a space; a variable whose levels all
    read as numbers gets its name in front (``enhance.levels``: ``Days0 - Days1``)."""
    parts = []
    for name, value in zip(names, combo, strict=True):
        v = grid.by_name[name]
        text = str(value) if v.kind == "factor" else _r_number(value)
        parts.append(f"{name}{text}" if _numeric_levels(v) else text)
    return " ".join(parts)


_R_NUMBER = re.compile(r"\s*[-+]?((\d+\.?\d*|\.\d+)([eE][-+]?\d+)?|0[xX][0-9a-fA-F]+|Inf|inf)\s*")


def _numeric_levels(v: GridVariable) -> bool:
    """emmeans' ``.is.num``: every level converts to a number."""
    if v.kind != "factor":
        return True
    return all(_R_NUMBER.fullmatch(str(x)) is not None for x in v.values)


def _r_number(x: float) -> str:
    """A number as R's paste() writes it (15 significant digits)."""
    if float(x).is_integer() and abs(x) < 1e15:
        return str(int(x))
    return f"{x:.15g}"


def _contrast_table(
    grid: ReferenceGrid,
    specs: list[str],
    by: list[str],
    combos: list[tuple[Any, ...]],
    emm: Linear,
    inference: _Inference,
    method: str,
    level: float,
    contrasts: str,
    scale: _Scale,
) -> tuple[pl.DataFrame, list[str]]:
    """Contrasts of the marginal estimates within each ``by`` group (the families)."""
    k = int(np.prod([len(grid.by_name[v].values) for v in specs]))
    n_groups = len(combos) // k
    labels = [_paren(_label(grid, specs, c[: len(specs)])) for c in combos[:k]]
    cmat, names = _contrast_matrix(labels, contrasts, " / " if scale.ratios else " - ")
    n_contr = len(names)
    lo_name, hi_name = _ci_names(level)
    parts: list[dict[str, Any]] = []
    p_notes: list[str] = []
    ci_notes: list[str] = []
    tukey_df = None
    blocks = []
    for g in range(n_groups):
        lf = emm.combine(cmat @ np.eye(emm.x.shape[0])[g * k : (g + 1) * k])
        blocks.append((lf, inference.rows(lf)))
    if method == "tukey":
        # emmeans zapsmall()s the df of the whole table before ptukey
        all_df = np.concatenate([r["DF"] for _, r in blocks]) if blocks else np.zeros(0)
        tukey_df = mc.zapsmall(all_df) if all_df.size else all_df
    for g, (lf, r) in enumerate(blocks):
        est, se, df = r["Estimate"], r["SE"], r["DF"]
        with np.errstate(invalid="ignore", divide="ignore"):
            t = est / se
        ok = ~np.isnan(est)
        fam = _family(lf, ok, inference, k, contrasts, method)
        p = np.full(n_contr, np.nan)
        cv = np.full(n_contr, np.nan)
        if ok.any():
            p_df = df if tukey_df is None else tukey_df[g * n_contr : (g + 1) * n_contr]
            p = mc.adjusted_pvalues(t, p_df, method, fam)
            cv[ok] = mc.critical_values(level, df[ok], method, fam, n_contrasts=n_contr)
        for note, bucket in (
            (mc.describe(method, n_contr, fam, for_interval=True), ci_notes),
            (mc.describe(method, n_contr, fam), p_notes),
        ):
            if note and note not in bucket:
                bucket.append(note)
        combo = combos[g * k]
        part: dict[str, Any] = {"Contrast": pl.Series("Contrast", names, dtype=pl.String)}
        for j, v in enumerate(by):
            part[v] = _level_series(grid, v, [combo[len(specs) + j]] * n_contr)
        lo, hi = est - cv * se, est + cv * se
        if scale.ratios:
            # emmeans' ratios of back-transformed means: exp of the log-scale contrast, delta-method SE,
            # interval back-transformed; the test stays the one of the log scale
            est, lo, hi = np.exp(est), np.exp(lo), np.exp(hi)
            se = est * se
        part.update(
            {
                "Estimate": est,
                lo_name: lo,
                hi_name: hi,
                "SE": se,
                "DF": df,
                inference.stat: t,
                "P-val": p,
                "Sig": pl.Series("Sig", [significance(v) for v in p], dtype=pl.String),
            }
        )
        parts.append(part)
    if parts:
        table = pl.concat([pl.DataFrame(part) for part in parts])
    else:
        table = pl.DataFrame(
            schema=["Contrast", *by, "Estimate", lo_name, hi_name, "SE", "DF", inference.stat, "P-val", "Sig"]
        )
    notes = [
        inference.df_note,
        scale.contrast_note,
        f"Confidence level used: {level:g}",
        *ci_notes,
        scale.contrast_back_note,
        *p_notes,
        scale.contrast_test_note,
    ]
    return table, [n for n in notes if n]


def _family(lf: Linear, ok: np.ndarray, inference: _Inference, size: int, contrasts: str, method: str) -> mc.Family:
    """emmeans' family information of one ``by`` group."""
    x = lf.x[ok]
    corr = None
    if method == "mvt" and x.shape[0] > 0:
        cov = x @ inference.vcov @ x.T
        d = np.sqrt(np.diag(cov))
        corr = cov / np.outer(d, d)
    # Scheffe's rank: of every contrast of the family, estimable or not (emmeans)
    full = lf.x if lf.full is None else lf.full
    rank = int(np.linalg.matrix_rank(mc.zapsmall(full))) if full.shape[0] > 0 else 1
    return mc.Family(size=size, pairs=contrasts == "pairwise", corr=corr, rank=max(rank, 1))


def _paren(label: str) -> str:
    return f"({label})" if _PARENS.search(label) else label


def _contrast_matrix(labels: list[str], method: str, sep: str = " - ") -> tuple[np.ndarray, list[str]]:
    """pairwise.emmc / trt.vs.ctrl.emmc: coefficients on the k means and names
    (``sep`` " / " for ratios of back-transformed means)."""
    k = len(labels)
    rows, names = [], []
    if method == "pairwise":
        for i in range(k - 1):
            for j in range(i + 1, k):
                c = np.zeros(k)
                c[i], c[j] = 1.0, -1.0
                rows.append(c)
                names.append(f"{labels[i]}{sep}{labels[j]}")
    else:
        for i in range(1, k):
            c = np.zeros(k)
            c[i], c[0] = 1.0, -1.0
            rows.append(c)
            names.append(f"{labels[i]}{sep}{labels[0]}")
    if not rows:
        return np.zeros((0, k)), []
    return np.vstack(rows), names


# ------------------------------------------------------------ GLMM scale
# emmeans' names of a ratio of back-transformed means, by link
_RATIO_NAMES = {"logit": ("odds ratio", "log odds ratio"), "log": ("ratio", "log")}
# emmeans' names of a back-transformed mean, by family (summary's column: prob, rate, response)
_RESPONSE_NAMES = {"binomial": "probabilities", "poisson": "rates"}


@dataclass
class _Scale:
    """On which scale the tables are given, and emmeans' notes about it.

    ``link``: R's name of the link (None for a linear mixed model);
    ``back_transform``: means through the inverse link (``type="response"``);
    ``ratios``: contrasts as ratios of back-transformed means (log and logit links)."""

    link: str | None = None
    family: str | None = None
    back_transform: bool = False
    ratios: bool = False
    trend: bool = False

    @classmethod
    def of(cls, model: Any, type: str, trend: bool) -> _Scale:
        if not model.is_generalized:
            return cls()
        link = str(model.link)
        if link == "identity" or trend:  # emtrends' slopes are on the link scale whatever the type
            return cls(link=link, family=model.family, trend=trend)
        response = type == "response"
        return cls(link=link, family=model.family, back_transform=response, ratios=response and link in _RATIO_NAMES)

    @property
    def _transformed(self) -> bool:
        return self.link is not None and self.link != "identity" and not self.trend

    @property
    def means_note(self) -> str | None:
        if self._transformed and not self.back_transform:
            return f"Results are given on the {self.link} (not the response) scale."
        return None

    @property
    def means_back_note(self) -> str | None:
        return f"Intervals are back-transformed from the {self.link} scale" if self.back_transform else None

    @property
    def means_title(self) -> str:
        if not self._transformed:
            return ""
        if self.back_transform:
            return f" (response scale: {_RESPONSE_NAMES.get(self.family or '', 'means')})"
        return f" ({self.link} scale)"

    @property
    def ratio_name(self) -> str:
        return _RATIO_NAMES[self.link or ""][0]

    @property
    def contrast_note(self) -> str | None:
        if not self._transformed:
            return None
        if self.link not in _RATIO_NAMES:
            return f"Note: contrasts are still on the {self.link} scale"
        if not self.ratios:
            return f"Results are given on the {_RATIO_NAMES[self.link or ''][1]} (not the response) scale."
        return None

    @property
    def contrast_back_note(self) -> str | None:
        if self.ratios:
            return f"Intervals are back-transformed from the {_RATIO_NAMES[self.link or ''][1]} scale"
        return None

    @property
    def contrast_test_note(self) -> str | None:
        if self.ratios:
            return f"Tests are performed on the {_RATIO_NAMES[self.link or ''][1]} scale"
        return None


# ------------------------------------------------------------- helpers
def _check_model(model: Any) -> None:
    if not hasattr(model, "fixed_terms") or not hasattr(model, "formula"):
        raise DataError(f"post_hoc needs a fitted mixedmodels.Lmer, not {type(model).__name__}")
    if not getattr(model, "fitted", False):
        raise DataError("the model has not been fitted yet: call fit() first")


def _names(x: Any, role: str) -> list[str]:
    if isinstance(x, str):
        return [x]
    if isinstance(x, Sequence) and all(isinstance(v, str) for v in x):
        return list(x)
    raise DataError(f"{role} must be a variable name or a list of names, not {x!r}")


def _mentions(expr: str, name: str) -> bool:
    return re.search(rf"(?<![\w.]){re.escape(name)}(?![\w.])", expr) is not None or expr.strip("`") == name


def _coerced(expr: str, name: str) -> bool:
    fn = "|".join(re.escape(f) for f in _COERCE)
    return re.fullmatch(rf"\s*(?:{fn})\(\s*`?{re.escape(name)}`?\s*\)\s*", expr) is not None


def _null_basis(x: np.ndarray, tol: float = 1e-8) -> np.ndarray:
    """Basis of the null space of X (estimability::nonest.basis)."""
    _, s, vt = np.linalg.svd(x, full_matrices=True)
    rank = int(np.sum(s > tol * (s[0] if s.size else 1.0)))
    return vt[rank:].T


def _is_estimable(x: np.ndarray, nb: np.ndarray, tol: float = 1e-8) -> np.ndarray:
    """estimability::is.estble for each row of x."""
    if nb.shape[1] == 0:
        return np.ones(x.shape[0], dtype=bool)
    chk = x @ nb
    ssq = np.sum(x * x, axis=1)
    ssq = np.where(ssq < tol, 1.0, ssq)
    return np.sum(chk * chk, axis=1) < tol * ssq
