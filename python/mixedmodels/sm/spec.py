"""statsmodels' description of a linear mixed model, translated to lme4's.

statsmodels (``MixedLM``) describes a model by a fixed-effects formula (patsy
syntax) or design, a grouping variable ``groups``, random coefficients
``re_formula`` / ``exog_re`` whose covariance within a group is unstructured,
and variance components ``vc_formula`` / ``exog_vc``: columns whose random
coefficients are independent, share one variance and are drawn afresh in each
group. In lme4's formula language (Bates et al. 2015, JSS 67(1), section 2.1):

=================================================  ==========================
statsmodels                                        lme4
=================================================  ==========================
``groups=g`` (no ``re_formula``, no components)    ``(1 | g)``
``re_formula="1 + x"``                             ``(1 + x | g)``
``free=`` with a diagonal ``cov_re`` pattern       ``(1 + x || g)``
component ``"0 + C(v)"`` (or ``v`` a factor)       ``(1 | g:v)``
component ``"0 + x"`` (``x`` numeric)              ``(0 + x | g)``
=================================================  ==========================

A component that is neither (several numeric columns sharing one variance, or
one with an intercept) has no lme4 formula and is refused with a
``NotImplementedError`` that says so.

:class:`ModelSpec` holds the translated model: the data frame the ``Lmer``
reads (groups and nested factors as factors, missing rows handled as
statsmodels' ``missing=`` says) and, for the statsmodels-style results, the
names statsmodels gives to each parameter and random effect.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from mixedmodels import _core
from mixedmodels._frame import core_frame, missing_rows, to_polars
from mixedmodels.exceptions import ColumnError, DataError

__all__ = ["ModelSpec", "VCSpec", "VarianceComponent", "from_arrays", "from_formula", "quote"]

_PLAIN_NAME = re.compile(r"[A-Za-z.][A-Za-z0-9._]*")


def quote(name: str) -> str:
    """A column name as lme4's formula reads it (backquoted unless plain)."""
    return name if _PLAIN_NAME.fullmatch(name) else f"`{name}`"


class VCSpec:
    """statsmodels' array description of variance components: ``names[k]``
    the name of component ``k``, ``colnames[k][i]`` the names of its columns in
    group ``i`` (groups in sorted order), ``mats[k][i]`` its design matrix there."""

    def __init__(self, names: Sequence[str], colnames: Sequence[Sequence[Sequence[str]]], mats: Sequence[Any]) -> None:
        self.names, self.colnames, self.mats = list(names), list(colnames), list(mats)


@dataclass(frozen=True)
class VarianceComponent:
    """One variance component: statsmodels' ``name`` (a key of
    ``vc_formula``), its lme4 term, and for each group the random effects it
    has there: ``effects[g]`` lists ``(level, column)`` pairs, the level of the
    lme4 term's grouping factor and statsmodels' name of the design column.
    ``rows[i]`` is the position of row ``i``'s effect in its group's list
    (factor components) and ``values`` the covariate (numeric ones)."""

    name: str
    term: str
    grouping: str
    cname: str
    factor: bool
    effects: list[list[tuple[str, str]]]
    rows: np.ndarray
    values: np.ndarray


@dataclass
class ModelSpec:
    """A statsmodels model translated for lme4 (see the module's docstring)."""

    frame: pl.DataFrame
    fixed: str
    group: str
    group_name: str
    group_values: list[Any]
    group_codes: np.ndarray
    group_text: list[str]
    re: str | None
    re_names: list[str]
    re_r_names: list[str]
    exog_re: np.ndarray
    vcs: list[VarianceComponent]
    endog_name: str
    endog: np.ndarray
    exog: np.ndarray
    xnames: list[str]
    r_names: list[str]
    index: Any
    pandas: bool

    def formula(self, independent: bool = False) -> str:
        """The lme4 formula; ``independent``: uncorrelated random coefficients (``||``)."""
        terms = []
        if self.re is not None:
            bar = "||" if independent else "|"
            terms.append(f"({self.re} {bar} {quote(self.group)})")
        terms += [vc.term for vc in self.vcs]
        return " + ".join([self.fixed, *terms])

    @property
    def k_re(self) -> int:
        return len(self.re_names)


# ----------------------------------------------------------------- formulas
def _split_top(text: str, sep: str = "+") -> list[str]:
    """Split ``text`` at ``sep`` outside parentheses and quotes."""
    parts, depth, quote_char, start = [], 0, "", 0
    for i, c in enumerate(text):
        if quote_char:
            quote_char = "" if c == quote_char else quote_char
        elif c in "\"'`":
            quote_char = c
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == sep and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts]


_CONTRASTS = {"Sum": "sum", "Helmert": "helmert", "Poly": "poly", "Treatment": "treatment"}
_C_CALL = re.compile(r"\bC\(")
_Q_CALL = re.compile(r"\bQ\(\s*([\"'])(.+?)\1\s*\)")
_NUMPY = re.compile(r"\b(?:np|numpy)\.(log|exp|sqrt|log10|log2|abs)\(")


def patsy_to_r(text: str) -> tuple[str, dict[str, str]]:
    """A patsy formula in R's syntax: ``C(x)`` -> ``factor(x)``,
    ``C(x, Treatment(reference="b"))`` -> ``relevel(factor(x), ref = "b")``,
    ``C(x, Sum)`` -> ``C(factor(x), sum)``, ``Q("a b")`` -> a backquoted name,
    ``np.log(x)`` -> ``log(x)``, ``**`` -> ``^``. Returns the formula and a map
    from each R factor expression to the patsy one it came from (to name the
    coefficients as statsmodels does)."""
    text = _Q_CALL.sub(lambda m: f"`{m.group(2)}`", text)
    text = _NUMPY.sub(lambda m: f"{m.group(1)}(", text).replace("**", "^")
    factors: dict[str, str] = {}
    out, pos = [], 0
    for m in _C_CALL.finditer(text):
        if m.start() < pos:
            continue
        end = _closing(text, m.end() - 1)
        inner = _split_top(text[m.end() : end], ",")
        r_expr = _factor_call(inner, text)
        factors[r_expr] = text[m.start() : end + 1]
        out.append(text[pos : m.start()] + r_expr)
        pos = end + 1
    out.append(text[pos:])
    return "".join(out), factors


def _closing(text: str, open_at: int) -> int:
    depth = 0
    for i in range(open_at, len(text)):
        depth += {"(": 1, ")": -1}.get(text[i], 0)
        if depth == 0:
            return i
    raise _core.FormulaError(f"unbalanced parenthesis in '{text}'")


def _factor_call(args: list[str], text: str) -> str:
    """R's expression for patsy's ``C(x[, contrast])``."""
    variable = f"factor({args[0]})"
    if len(args) == 1:
        return variable
    contrast = args[1]
    m = re.fullmatch(r"Treatment\(\s*(?:reference\s*=\s*)?(.+?)\s*\)", contrast)
    if m:
        return f"relevel({variable}, ref = {m.group(1)})"
    name = contrast.removesuffix("()")
    if name in _CONTRASTS:
        return variable if name == "Treatment" else f"C({variable}, {_CONTRASTS[name]})"
    raise NotImplementedError(f"C({', '.join(args)}) in '{text}': contrast '{contrast}' has no lme4 equivalent here")


def _rhs(text: str) -> str:
    """A one-sided formula's right-hand side (``"~ x"`` and ``"x"`` alike)."""
    return text.strip().removeprefix("~").strip()


# ------------------------------------------------------------------- naming
def statsmodels_names(r_names: Sequence[str], factors: Mapping[str, str], frame: pl.DataFrame) -> list[str]:
    """patsy's names of the fixed-effects columns from R's: ``(Intercept)`` ->
    ``Intercept``, ``factor(f)b`` -> ``C(f)[T.b]``, ``fb`` -> ``f[T.b]`` (a
    factor without contrasts, as after ``0 +``: ``f[b]``)."""
    stems = dict(factors)
    for name in frame.columns:
        if not frame.schema[name].is_numeric():
            stems.setdefault(quote(name), name)
    out = []
    for r_name in r_names:
        if r_name == "(Intercept)":
            out.append("Intercept")
            continue
        out.append(":".join(_patsy_piece(piece, stems, "(Intercept)" in r_names) for piece in r_name.split(":")))
    return out


def _patsy_piece(piece: str, stems: Mapping[str, str], treatment: bool) -> str:
    for r_stem in sorted(stems, key=len, reverse=True):
        if piece.startswith(r_stem) and len(piece) > len(r_stem):
            level = piece[len(r_stem) :]
            return f"{stems[r_stem]}[T.{level}]" if treatment else f"{stems[r_stem]}[{level}]"
    return piece


# -------------------------------------------------------------------- data
def _fresh(base: str, taken: Sequence[str]) -> str:
    name, k = base, 1
    while name in taken:
        name, k = f"{base}_{k}", k + 1
    return name


def _labels(values: np.ndarray) -> tuple[list[Any], np.ndarray, list[str]]:
    """Sorted distinct values (statsmodels sorts its group labels), each row's
    code, and the values as the text lme4 shows."""
    try:
        distinct, codes = np.unique(values, return_inverse=True)
    except TypeError as e:
        raise DataError(f"groups: values of mixed types cannot be sorted ({e})") from None
    text = [str(v) for v in distinct]
    if len(set(text)) < len(text):
        text = [f"{i}" for i in range(len(text))]
    return [v.item() if hasattr(v, "item") else v for v in distinct], codes.reshape(-1), text


def _as_factor(name: str, codes: np.ndarray, text: list[str]) -> pl.Series:
    return pl.Series(name, np.asarray(text, dtype=object)[codes], dtype=pl.String).cast(pl.Enum(text))


def _handle_missing(frame: pl.DataFrame, columns: Sequence[str], missing: str) -> np.ndarray:
    """The rows to keep: statsmodels' ``missing="drop"`` drops rows with a
    missing value in a column the model reads; otherwise such rows are an error."""
    if missing not in ("none", "drop", "raise"):
        raise DataError(f"missing must be 'none', 'drop' or 'raise', not {missing!r}")
    absent = missing_rows(frame, columns)
    if absent.any() and missing != "drop":
        bad = [c for c in dict.fromkeys(columns) if missing_rows(frame, [c]).any()]
        raise DataError(
            f"{int(absent.sum())} rows have missing values in {', '.join(map(repr, bad))}; "
            "pass missing='drop' to leave them out (as statsmodels does)"
        )
    return ~absent


def _group_array(groups: Any, frame: pl.DataFrame) -> np.ndarray:
    values = groups.to_numpy() if isinstance(groups, pl.Series) else np.asarray(groups)
    if values.ndim != 1 or len(values) != frame.height:
        raise DataError(f"groups must have one value a row ({frame.height}), got shape {values.shape}")
    return values


# ------------------------------------------------------------ formula path
def from_formula(
    formula: str,
    data: Any,
    groups: Any,
    re_formula: str | None = None,
    vc_formula: Mapping[str, str] | None = None,
    subset: Any = None,
    missing: str = "none",
) -> ModelSpec:
    """Translate ``MixedLM.from_formula``'s arguments."""
    index = _pandas_index(data)
    frame = to_polars(data)
    fixed, factors = patsy_to_r(formula)
    if "|" in fixed:
        raise _core.FormulaError(
            f"'{formula}': the statsmodels front end takes the random effects from groups=, re_formula= and "
            "vc_formula=; for lme4's (x | g) syntax use mixedmodels.Lmer"
        )
    if isinstance(groups, str):
        if groups not in frame.columns:
            raise ColumnError(f"groups: column '{groups}' is not in the data (columns: {', '.join(frame.columns)})")
        group_col, group_name, group_values = groups, groups, frame[groups].to_numpy()
    else:
        group_name = "Group"
        group_values = _group_array(groups, frame)
        group_col = _fresh(getattr(groups, "name", None) or "Group", frame.columns)
        frame = frame.with_columns(pl.Series(group_col, group_values, strict=False))
    re_rhs, re_factors = (None, {}) if re_formula is None else patsy_to_r(_rhs(re_formula))
    if re_formula is None and not vc_formula:
        re_rhs = "1"
    vc_parsed = [(name, _parse_component(name, vc_formula[name], frame)) for name in sorted(vc_formula or {})]

    reads = _core.formula_columns(fixed, data_columns=frame.columns)
    re_reads = [] if re_rhs is None else _core.formula_columns("~ " + re_rhs, data_columns=frame.columns)
    vc_reads = [column for _, (column, _, _) in vc_parsed]
    keep = _handle_missing(frame, [*reads, *re_reads, *vc_reads, group_col], missing)
    if subset is not None:
        keep &= _subset_mask(subset, frame.height)
    if not keep.all():
        frame = frame.filter(pl.Series(keep))
        group_values = np.asarray(group_values)[keep]
        index = None if index is None else index[keep]

    values, codes, text = _labels(np.asarray(group_values))
    if group_col in reads or group_col in re_reads or group_col in vc_reads:
        group_col = _fresh(f"{group_col}_group", frame.columns)
    frame = frame.with_columns(_as_factor(group_col, codes, text))
    vcs = []
    for name, (column, factor, label) in vc_parsed:
        vc, frame = _formula_component(name, column, factor, label, frame, group_col, codes, text, re_reads)
        vcs.append(vc)

    exog, r_names = _design(fixed, frame)
    exog_re, re_r_names = (np.zeros((frame.height, 0)), []) if re_rhs is None else _design("~ " + re_rhs, frame)
    response = _core.formula_structure(fixed)["response"]
    return ModelSpec(
        frame=frame,
        fixed=fixed,
        group=group_col,
        group_name=group_name,
        group_values=values,
        group_codes=codes,
        group_text=text,
        re=re_rhs,
        re_names=[n.replace("Intercept", group_name) for n in statsmodels_names(re_r_names, re_factors, frame)],
        re_r_names=re_r_names,
        exog_re=exog_re,
        vcs=vcs,
        endog_name=response,
        endog=_response(response, frame),
        exog=exog,
        xnames=statsmodels_names(r_names, factors, frame),
        r_names=r_names,
        index=index,
        pandas=True,
    )


def _pandas_index(data: Any) -> Any:
    index = getattr(data, "index", None)
    return np.asarray(index) if type(data).__module__.split(".")[0] == "pandas" and index is not None else None


def _subset_mask(subset: Any, n: int) -> np.ndarray:
    s = np.asarray(subset)
    if s.dtype == bool:
        if s.shape != (n,):
            raise DataError(f"subset: a boolean mask needs one value a row ({n}), got shape {s.shape}")
        return s
    mask = np.zeros(n, dtype=bool)
    mask[s.astype(int)] = True
    return mask


def _response(name: str, frame: pl.DataFrame) -> np.ndarray:
    if name in frame.columns:
        return frame[name].cast(pl.Float64).to_numpy()
    return np.full(frame.height, np.nan)  # a transformed response: the Lmer's reads it


def _design(formula: str, frame: pl.DataFrame) -> tuple[np.ndarray, list[str]]:
    columns = _core.formula_columns(formula, response=False, data_columns=frame.columns)
    x, names, _ = _core.model_matrix(formula, core_frame(frame, columns))
    return np.asarray(x), list(names)


def _parse_component(name: str, text: str, frame: pl.DataFrame) -> tuple[str, bool, str]:
    """A ``vc_formula`` entry: (column, is a factor, statsmodels' column stem)."""
    terms = _split_top(_rhs(text))
    if "0" not in terms and "-1" not in terms:
        raise NotImplementedError(
            f"vc_formula['{name}'] = '{text}': write '0 + ...' (as statsmodels recommends); a component "
            "with an intercept has no lme4 formula"
        )
    rest = [t for t in terms if t not in ("0", "-1")]
    if len(rest) != 1:
        raise NotImplementedError(
            f"vc_formula['{name}'] = '{text}': only one column a component translates to lme4 "
            "('0 + C(v)' -> (1 | g:v), '0 + x' -> (0 + x | g)); several columns sharing one variance do not; "
            "give each its own component"
        )
    term = _Q_CALL.sub(lambda m: m.group(2), rest[0])
    m = re.fullmatch(r"C\(\s*([^,()]+?)\s*\)", term)
    column = m.group(1) if m else term.strip("`")
    if column not in frame.columns:
        raise ColumnError(f"vc_formula['{name}']: column '{column}' is not in the data")
    factor = bool(m) or not frame.schema[column].is_numeric()
    return column, factor, (term if factor else column)


def _formula_component(
    name: str,
    column: str,
    factor: bool,
    label: str,
    frame: pl.DataFrame,
    group_col: str,
    group_codes: np.ndarray,
    group_text: list[str],
    avoid: Sequence[str],
) -> tuple[VarianceComponent, pl.DataFrame]:
    n_groups = len(group_text)
    if not factor:
        effects = [[(group_text[g], label)] for g in range(n_groups)]
        values = frame[column].cast(pl.Float64).to_numpy()
        if column in avoid:  # also a random coefficient: a copy keeps the two lme4 terms apart
            column = _fresh(f"{column}.{name}", frame.columns)
            frame = frame.with_columns(pl.Series(column, values))
        term = f"(0 + {quote(column)} | {quote(group_col)})"
        rows = np.zeros(frame.height, dtype=int)
        return VarianceComponent(name, term, group_col, column, False, effects, rows, values), frame
    level_values, level_codes, _ = _labels(frame[column].to_numpy())
    return _nested_factor(name, label, level_values, level_codes, frame, group_col, group_codes, group_text)


def _nested_factor(
    name: str,
    label: str,
    level_values: list[Any],
    level_codes: np.ndarray,
    frame: pl.DataFrame,
    group_col: str,
    group_codes: np.ndarray,
    group_text: list[str],
) -> tuple[VarianceComponent, pl.DataFrame]:
    """A factor nested in the groups: one lme4 level a (group, level) pair
    present in the data, named ``group:level`` as lme4 names ``g:v``."""
    pairs = np.unique(np.stack([group_codes, level_codes], axis=1), axis=0)
    level_text = [str(v) for v in level_values]
    pair_text = [f"{group_text[g]}:{level_text[v]}" for g, v in pairs]
    if len(set(pair_text)) < len(pair_text):
        pair_text = [f"{g}:{v}" for g, v in pairs]
    effects: list[list[tuple[str, str]]] = [[] for _ in group_text]
    position = {}
    for (g, v), text in zip(pairs, pair_text, strict=True):
        position[(g, v)] = len(effects[g])
        effects[g].append((text, f"{label}[{level_text[v]}]" if label else level_text[v]))
    pair_index = {(g, v): i for i, (g, v) in enumerate(pairs)}
    row_pair = np.array([pair_index[(g, v)] for g, v in zip(group_codes, level_codes, strict=True)], dtype=int)
    rows = np.array([position[(g, v)] for g, v in zip(group_codes, level_codes, strict=True)], dtype=int)
    grouping = _fresh(f"{group_col}:{name}", frame.columns)
    frame = frame.with_columns(_as_factor(grouping, row_pair, pair_text))
    term = f"(1 | {quote(grouping)})"
    return VarianceComponent(name, term, grouping, "(Intercept)", True, effects, rows, np.ones(frame.height)), frame


# -------------------------------------------------------------- array path
def _array(x: Any) -> np.ndarray:
    if isinstance(x, pl.Series | pl.DataFrame):
        return x.to_numpy()
    return np.asarray(x)


def _column_names(x: Any, k: int, generic: list[str]) -> list[str]:
    columns = getattr(x, "columns", None)
    if columns is not None:
        return [str(c) for c in columns]
    name = getattr(x, "name", None)
    if name is not None and k == 1:
        return [str(name)]
    return generic


def _exog_names(x: np.ndarray) -> list[str]:
    """statsmodels' generic names: ``x1, x2, ...`` with a constant column named ``const``."""
    k = x.shape[1]
    constant = np.flatnonzero(np.nanvar(x, axis=0) == 0) if x.shape[0] else np.array([], dtype=int)
    if constant.size:
        names = [f"x{i}" for i in range(1, k)]
        names.insert(int(constant[0]), "const")
        return names
    return [f"x{i}" for i in range(1, k + 1)]


def _matrix(x: Any, n: int, what: str) -> np.ndarray:
    m = _array(x).astype(float)
    if m.ndim == 1:
        m = m[:, None]
    if m.ndim != 2 or m.shape[0] != n:
        raise DataError(f"{what} must have one row an observation ({n}), got shape {m.shape}")
    return m


def from_arrays(
    endog: Any,
    exog: Any,
    groups: Any,
    exog_re: Any = None,
    exog_vc: Any = None,
    missing: str = "none",
) -> ModelSpec:
    """Translate ``MixedLM(endog, exog, groups, exog_re, exog_vc)``."""
    y = _array(endog).astype(float).reshape(-1)
    n = len(y)
    x = _matrix(exog, n, "exog")
    endog_name = str(getattr(endog, "name", None) or "y")
    xnames = _column_names(exog, x.shape[1], _exog_names(x))
    group_values = _array(groups).reshape(-1) if groups is not None else np.zeros(n)
    if len(group_values) != n:
        raise DataError(f"groups must have one value a row ({n}), got {len(group_values)}")
    z = None if exog_re is None else _matrix(exog_re, n, "exog_re")
    pandas = any(type(a).__module__.split(".")[0] == "pandas" for a in (endog, exog, exog_re))

    columns: dict[str, np.ndarray] = {endog_name: y}
    x_cols = []
    for j, name in enumerate(xnames):
        x_cols.append(_fresh(name, list(columns)))
        columns[x_cols[-1]] = x[:, j]
    z_cols: list[str] = []
    if z is not None:
        re_names = _column_names(exog_re, z.shape[1], [f"x_re{k + 1}" for k in range(z.shape[1])])
        for j, name in enumerate(re_names):
            z_cols.append(_fresh(name, list(columns)))
            columns[z_cols[-1]] = z[:, j]
    elif exog_vc is None:
        re_names = ["Group Var"]
    else:
        re_names = []
    frame = pl.DataFrame(columns)
    keep = _handle_missing(frame, frame.columns, missing) & ~_missing_values(group_values)
    values, codes, text = _labels(group_values[keep])
    index = np.asarray(getattr(endog, "index", np.arange(n)))[keep]
    frame = frame.filter(pl.Series(keep)) if not keep.all() else frame
    group_col = _fresh("Group", frame.columns)
    frame = frame.with_columns(_as_factor(group_col, codes, text))

    vcs = []
    for name, colnames, mats in _vc_blocks(exog_vc, values):
        vc, frame = _array_component(name, colnames, mats, frame, group_col, codes, text, keep)
        vcs.append(vc)
    fixed = f"{quote(endog_name)} ~ 0 + " + " + ".join(quote(c) for c in x_cols) if x_cols else f"{endog_name} ~ 0"
    re_rhs, re_r_names = None, list(z_cols)
    if z_cols:
        re_rhs = "0 + " + " + ".join(quote(c) for c in z_cols)
    elif exog_vc is None:
        re_rhs, re_r_names = "1", ["(Intercept)"]
    return ModelSpec(
        frame=frame,
        fixed=fixed,
        group=group_col,
        group_name="Group",
        group_values=values,
        group_codes=codes,
        group_text=text,
        re=re_rhs,
        re_names=re_names,
        re_r_names=re_r_names,
        exog_re=(z[keep] if z is not None else np.ones((frame.height, 1 if re_rhs else 0))),
        vcs=vcs,
        endog_name=endog_name,
        endog=y[keep],
        exog=x[keep],
        xnames=xnames,
        r_names=x_cols,
        index=index,
        pandas=pandas,
    )


def _missing_values(values: np.ndarray) -> np.ndarray:
    if values.dtype.kind == "f":
        return np.isnan(values)
    if values.dtype.kind == "O":
        return np.array([v is None or (isinstance(v, float) and np.isnan(v)) for v in values])
    return np.zeros(len(values), dtype=bool)


def _vc_blocks(exog_vc: Any, group_values: list[Any]) -> list[tuple[str, list[list[str]], list[np.ndarray]]]:
    """statsmodels' array variance components, a ``VCSpec`` or the older dict
    ``{name: {group: matrix}}``, as (name, column names by group, matrices by group)."""
    if exog_vc is None:
        return []
    if isinstance(exog_vc, Mapping):
        warnings.warn(
            "Using deprecated variance components specification (a dict); statsmodels now takes a VCSpec",
            FutureWarning,
            stacklevel=4,
        )
    if hasattr(exog_vc, "names") and hasattr(exog_vc, "mats"):
        blocks = zip(exog_vc.names, exog_vc.colnames, exog_vc.mats, strict=True)
        return sorted(((n, c, [np.asarray(m, dtype=float) for m in ms]) for n, c, ms in blocks), key=lambda b: b[0])
    out = []
    for name in sorted(exog_vc):
        by_group = exog_vc[name]
        mats = [np.asarray(by_group[g], dtype=float).reshape(len(np.asarray(by_group[g])), -1) for g in group_values]
        names = [
            [str(c) for c in getattr(by_group[g], "columns", range(m.shape[1]))]
            for g, m in zip(group_values, mats, strict=True)
        ]
        out.append((name, names, mats))
    return out


def _array_component(
    name: str,
    colnames: list[list[str]],
    mats: list[np.ndarray],
    frame: pl.DataFrame,
    group_col: str,
    group_codes: np.ndarray,
    group_text: list[str],
    keep: np.ndarray,
) -> tuple[VarianceComponent, pl.DataFrame]:
    """A component given as matrices by group: one column each (a numeric
    covariate) or indicator columns (a factor nested in the groups)."""
    if len(mats) != len(group_text):
        raise DataError(f"exog_vc['{name}']: one matrix a group ({len(group_text)}), got {len(mats)}")
    n = frame.height
    if keep.sum() != n or not keep.all():
        raise NotImplementedError(f"exog_vc['{name}']: array variance components with missing rows")
    rows_of = [np.flatnonzero(group_codes == g) for g in range(len(group_text))]
    for g, m in enumerate(mats):
        if m.shape[0] != len(rows_of[g]):
            raise DataError(
                f"exog_vc['{name}']: group {group_text[g]} has {len(rows_of[g])} rows, its matrix {m.shape[0]}"
            )
    if all(m.shape[1] == 1 for m in mats):
        values = np.zeros(n)
        for g, m in enumerate(mats):
            values[rows_of[g]] = m[:, 0]
        column = _fresh(name, frame.columns)
        frame = frame.with_columns(pl.Series(column, values))
        effects = [[(group_text[g], f"{colnames[g][0]}")] for g in range(len(group_text))]
        term = f"(0 + {quote(column)} | {quote(group_col)})"
        rows = np.zeros(n, dtype=int)
        return VarianceComponent(name, term, group_col, column, False, effects, rows, values), frame
    level_codes = np.zeros(n, dtype=int)
    level_names: list[str] = []
    for g, m in enumerate(mats):
        if not np.all((m == 0) | (m == 1)) or not np.all(m.sum(axis=1) == 1):
            raise NotImplementedError(
                f"exog_vc['{name}']: only one column a group (a covariate) or indicator columns (a nested factor) "
                "translate to lme4 terms"
            )
        for col in colnames[g]:
            if col not in level_names:
                level_names.append(col)
        code_of = {col: level_names.index(col) for col in colnames[g]}
        level_codes[rows_of[g]] = np.array([code_of[col] for col in colnames[g]], dtype=int)[np.argmax(m, axis=1)]
    return _nested_factor(
        name, "", level_names, level_codes, frame, group_col, group_codes, group_text
    )  # names: columns'
