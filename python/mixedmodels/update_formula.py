"""R's ``update.formula`` for lme4 formulas: ``update_formula(old, ". ~ . - x")``.

The new formula's ``.`` stands for the old left side (on the left of ``~``)
or the old right side (on the right): ``. ~ . + z`` adds a term,
``. ~ . - x`` removes one, ``. ~ . - (1 + x | g) + (1 | g)`` replaces a
random-effect term, ``log(.) ~ .`` transforms the response, ``~ . - 1``
(no left side) keeps the response. As R's ``update.formula`` the result is
simplified by ``terms()``: ``a * b`` is written ``a + b + a:b`` and removing
``a:b`` leaves ``a + b``; removing ``a * b`` removes ``a``, ``b`` and
``a:b``; ``- 1`` / ``+ 0`` drop the intercept and ``+ 1`` restores it (the
last one wins).

Where R would silently do nothing this module refuses, naming the term:
removing a term the model does not have (R keeps the formula unchanged,
and a step that meant to simplify the model would not), removing an
offset (R keeps it too), and ``.`` inside an interaction or power when the
old formula has random-effect terms (R would cross them with the fixed
terms). Random-effect terms are matched by meaning, not spelling:
``(x | g)`` and ``(1 + x | g)`` are the same term, and the old formula's
``(x || g)`` and ``(1 | g/h)`` are read as lme4 expands them (``(1 | g) +
(0 + x | g)``; ``(1 | g) + (1 | h:g)``), so each part can be removed.

The formula structure comes from the core's parser (R's ``terms`` and
lme4's ``findbars``); this module only splits the new right side into its
top-level ``+``/``-`` pieces and assembles the text of the result.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from mixedmodels import _core
from mixedmodels.exceptions import FormulaError

__all__ = ["update_formula"]

_NAME_CHAR = re.compile(r"[A-Za-z0-9._]")


@dataclass
class _Formula:
    """A formula as parts: response text, intercept, fixed terms (R's labels),
    offsets, and random-effect terms (``lhs | group`` texts)."""

    response: str
    intercept: bool = True
    terms: list[str] = field(default_factory=list)
    offsets: list[str] = field(default_factory=list)
    bars: list[dict[str, Any]] = field(default_factory=list)

    def text(self) -> str:
        fixed = [*self.terms, *(f"offset({o})" for o in self.offsets)]
        empty = "1" if self.intercept else "0"
        rhs = " + ".join(fixed) + ("" if self.intercept else " - 1") if fixed else empty
        return " + ".join([f"{self.response} ~ {rhs}", *(f"({_bar_text(b)})" for b in self.bars)])


def update_formula(old: str, new: str) -> str:
    """The formula ``new`` with ``.`` standing for the parts of ``old``, as
    R's ``update.formula(old, new)`` (see the module's documentation for the
    rules and for what is refused). Returns the formula's text, written from
    its terms (``y ~ a + b + a:b + (1 | g)``)."""
    if not isinstance(new, str) or not new.strip():
        raise FormulaError(f"the new formula must be a non-empty string such as '. ~ . + x', not {new!r}")
    parsed = _core.formula_structure(old)
    before = _Formula(
        parsed["response"], parsed["intercept"], list(parsed["terms"]), list(parsed["offsets"]), list(parsed["bars"])
    )
    if "~" not in new:
        raise FormulaError(f"'{new}': an update formula has a '~', such as '. ~ . + x' or '~ . - x'")
    lhs, rhs = (s.strip() for s in new.split("~", 1))
    if "~" in rhs:
        raise FormulaError(f"'{new}': more than one '~'")
    after = _update_rhs(before, rhs, new)
    after.response = _update_lhs(before.response, lhs)
    text = after.text()
    _core.formula_structure(text)  # the result parses (raises FormulaError naming the position otherwise)
    return text


# ---------------------------------------------------------------- left side
def _update_lhs(old_response: str, lhs: str) -> str:
    """The new response: the old one for an empty or ``.`` left side, else the
    left side with ``.`` replaced by the old response."""
    if lhs in ("", "."):
        return old_response
    if not _has_dot(lhs):
        return lhs
    wrapped = old_response if _is_simple(old_response) else f"({old_response})"
    return _replace_dots(lhs, wrapped)


# --------------------------------------------------------------- right side
def _update_rhs(old: _Formula, rhs: str, new: str) -> _Formula:
    pieces = _split_terms(rhs, new)
    dot = any(sign == "+" and text == "." for sign, text in pieces)
    out = _Formula(old.response, old.intercept if dot else True)
    added: list[str] = []
    removed: list[str] = []
    bar_changes: list[tuple[str, str]] = []
    for sign, text in pieces:
        if text == ".":
            if sign == "-":
                raise FormulaError(f"'{new}': '- .' would remove every term; write the formula in full instead")
            continue
        if text in ("0", "1"):
            out.intercept = (text == "1") == (sign == "+")
            continue
        if _is_bar(text):
            bar_changes.append((sign, text))
            continue
        if _has_dot(text):
            if old.bars:
                raise FormulaError(
                    f"'{new}': '.' inside '{text}' would cross the random-effect terms with the fixed ones; "
                    "write the fixed terms you want instead of '.'"
                )
            text = _replace_dots(text, f"({' + '.join(old.terms) or '1'})")
        if sign == "-" and text.replace(" ", "").startswith("offset("):
            raise FormulaError(
                f"'{new}': an offset cannot be removed by an update (R keeps it); write the formula in full"
            )
        (added if sign == "+" else removed).append(text)
    kept = [*old.terms, *(f"offset({o})" for o in old.offsets)] if dot else []
    _fixed_part(out, kept + added, removed, old, new)
    out.bars = list(old.bars) if dot else []
    for sign, text in bar_changes:
        _change_bars(out.bars, sign, text, new)
    return out


def _fixed_part(out: _Formula, added: list[str], removed: list[str], old: _Formula, new: str) -> None:
    """The fixed terms and offsets of ``added`` minus ``removed``, as R's
    ``terms()`` simplifies them; a removal must remove something (``- a * b``
    from ``a:b`` removes ``a:b``, as in R; ``- z`` without ``z`` is refused)."""
    plus = " + ".join(added) if added else "1"
    have = _parse(f"y ~ {plus}", new)
    present = {frozenset(v) for v in have["term_variables"]}
    for text in removed:
        gone = _parse(f"y ~ {text}", new)
        if not any(frozenset(v) in present for v in gone["term_variables"]):
            raise FormulaError(
                f"'{new}': cannot remove '{text}': the model's fixed part has no such term "
                f"(its terms: {', '.join(old.terms) or 'none'})"
            )
    text = plus + "".join(f" - ({t})" for t in removed)
    parsed = _parse(f"y ~ {text}", new)
    out.terms = list(parsed["terms"])
    out.offsets = list(dict.fromkeys(parsed["offsets"]))
    out.intercept = out.intercept and bool(have["intercept"])  # a "- 1" inside a piece


def _change_bars(bars: list[dict[str, Any]], sign: str, text: str, new: str) -> None:
    """Add (``+``) or remove (``-``) the random-effect term(s) of ``text``
    (lme4's expansion of ``||`` and ``/`` gives several)."""
    for bar in _parse(f"y ~ 1 + {text}", new)["bars"]:
        index = next((i for i, b in enumerate(bars) if _same_bar(b, bar)), None)
        if sign == "+":
            if index is None:
                bars.append(bar)
        elif index is None:
            listed = ", ".join(f"({_bar_text(b)})" for b in bars) or "none"
            raise FormulaError(
                f"'{new}': cannot remove '({_bar_text(bar)})': the model has no such random-effect term "
                f"(its random-effect terms: {listed})"
            )
        else:
            del bars[index]


def _parse(formula: str, new: str) -> dict[str, Any]:
    """The core's structure of a formula assembled from pieces of ``new``; its
    errors name ``new``, the formula the user wrote."""
    try:
        return dict(_core.formula_structure(formula))
    except FormulaError as e:
        reason = str(e).splitlines()[0]
        raise FormulaError(f"'{new}': {reason.split(' (at position')[0]}") from None


def _same_bar(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """The same random-effect term: same grouping factor (``g:h`` = ``h:g``),
    intercept and effects, however written."""
    return (
        sorted(a["group"].split(":")) == sorted(b["group"].split(":"))
        and a["intercept"] == b["intercept"]
        and sorted(a["terms"]) == sorted(b["terms"])
    )


def _bar_text(bar: dict[str, Any]) -> str:
    return f"{bar['lhs']} | {bar['group']}"


# ------------------------------------------------------------------ tokens
def _split_terms(rhs: str, new: str) -> list[tuple[str, str]]:
    """The right side's top-level pieces, each with its sign: ``. - x + (1 | g)``
    gives ``[("+", "."), ("-", "x"), ("+", "(1 | g)")]``."""
    if not rhs:
        raise FormulaError(f"'{new}': the right side of '~' is empty (use '.' for the old one)")
    pieces: list[tuple[str, str]] = []
    depth, start, sign = 0, 0, "+"
    for i, ch in enumerate(rhs):
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
            if depth < 0:
                raise FormulaError(f"'{new}': unbalanced ')' at position {i + 1} of the right side")
        elif ch in "+-" and depth == 0 and not _in_number(rhs, i):
            piece = rhs[start:i].strip()
            if piece:
                pieces.append((sign, piece))
            elif i > 0 and rhs[:i].strip():
                raise FormulaError(f"'{new}': a term is missing before '{ch}' at position {i + 1} of the right side")
            sign, start = ch, i + 1
    if depth != 0:
        raise FormulaError(f"'{new}': unbalanced '(' in the right side")
    last = rhs[start:].strip()
    if not last:
        raise FormulaError(f"'{new}': the right side ends with '{sign}': a term is missing")
    pieces.append((sign, last))
    return pieces


def _in_number(text: str, i: int) -> bool:
    """A ``+``/``-`` inside a number's exponent (``1e-3``)."""
    return i >= 2 and text[i - 1] in "eE" and text[i - 2].isdigit()


def _is_bar(piece: str) -> bool:
    """A parenthesised random-effect term ``(lhs | group)``."""
    if not (piece.startswith("(") and piece.endswith(")")):
        return False
    depth = 0
    for ch in piece[1:-1]:
        depth += ch == "("
        depth -= ch == ")"
        if depth < 0:
            return False  # "(a) + (b)": the outer parentheses do not match
        if ch == "|" and depth == 0:
            return True
    return False


def _dot_positions(text: str) -> list[int]:
    """Where a ``.`` stands alone (not inside a name such as ``x.1`` or a number)."""
    out = []
    for i, ch in enumerate(text):
        if ch != ".":
            continue
        before = text[i - 1] if i > 0 else " "
        after = text[i + 1] if i + 1 < len(text) else " "
        if not _NAME_CHAR.match(before) and not _NAME_CHAR.match(after):
            out.append(i)
    return out


def _has_dot(text: str) -> bool:
    return bool(_dot_positions(text))


def _replace_dots(text: str, replacement: str) -> str:
    for i in reversed(_dot_positions(text)):
        text = text[:i] + replacement + text[i + 1 :]
    return text


def _is_simple(expr: str) -> bool:
    """A name or a call: safe to substitute without parentheses."""
    return re.fullmatch(r"[A-Za-z._][A-Za-z0-9._]*(\(.*\))?", expr.strip()) is not None
