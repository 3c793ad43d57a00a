"""``fit(control=...)``: lme4's ``lmerControl()`` / ``glmerControl()`` options,
as pymer4 passes them (the R text ``"optimizer='bobyqa', optCtrl =
list(xtol_abs = 1e-8, maxfun = 1e5)"``) or as a dict (``{"optimizer":
"bobyqa", "maxfun": 100000, "xtol_abs": 1e-8, "check.conv.singular":
"ignore"}``; ``optCtrl`` may also be a nested dict).

Three optimizers run linear mixed models here (docs/performance.md): a
projected BFGS method on the analytic gradient of the profiled criterion
(``"bfgs"``, the default where it is faster), Powell's BOBYQA (``"bobyqa"``,
lme4's default family) and a bounded Nelder-Mead simplex (``"nelder_mead"``,
lme4's ``Nelder_Mead``). ``"auto"`` lets the fit choose. GLMMs run BOBYQA in
both stages (``all_fit()`` tries Nelder-Mead on them too). The settings map
onto them:

=====================================  ==========================================
lme4                                   here
=====================================  ==========================================
``optimizer``                          ``"bobyqa"``, ``"nloptwrap"``: BOBYQA;
                                       ``"Nelder_Mead"``, ``"nmkbw"``:
                                       Nelder-Mead; ``"nlminbwrap"``,
                                       ``"optimx"``: BFGS (quasi-Newton, as
                                       those); ``"bfgs"``, ``"bobyqa"``,
                                       ``"nelder_mead"``, ``"auto"``: ours. The
                                       name asked for is kept in
                                       ``model.control``.
``maxfun``, ``maxeval``, ``maxit``     the most objective evaluations
``xtol_abs``, ``xtol_rel``,            BOBYQA's final trust-region radius, or
``XtolRel``, ``rhoend``                Nelder-Mead's tolerance on the
                                       simplex's vertices (relative to
                                       max(1, abs(theta)))
``rhobeg``                             the first trust-region radius (the
                                       first simplex's edge)
``ftol_abs``, ``FtolAbs``,             stop when a stage improves the criterion
``ftol_rel``, ``FtolRel``              by less (nloptr's rule), or when the
                                       simplex's values spread by less
``calc.derivs``                        derivatives at the optimum (convergence
                                       checks, Satterthwaite df)
``check.conv.grad``, ``.hess``,        ``"ignore"`` drops those warnings,
``.singular``                          ``"stop"`` raises them, ``"warning"`` and
                                       ``"message"`` keep them
=====================================  ==========================================

BOBYQA's tolerances (``xtol_*``, ``rhoend``, ``rhobeg``, ``ftol_*``) without
an optimizer name tune lme4's default, BOBYQA, so they select it; with
``"bfgs"`` they are an error; Nelder-Mead takes them as above. Any other key
is an error naming it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mixedmodels.exceptions import DataError

__all__ = ["Control", "control_from_fit", "parse_control"]

# The core's method each optimizer name runs (lme4's names and ours).
METHODS = {
    "auto": "auto",
    "bfgs": "bfgs",
    "bobyqa": "bobyqa",
    "nelder_mead": "nelder_mead",
    "nloptwrap": "bobyqa",
    "Nelder_Mead": "nelder_mead",
    "nmkbw": "nelder_mead",
    "nlminbwrap": "bfgs",
    "optimx": "bfgs",
}
OPTIMIZERS = tuple(METHODS)
# Settings only BOBYQA has.
_BOBYQA_SETTINGS = ("rho_end", "rho_begin", "ftol_abs", "ftol_rel")
_SETTINGS = {
    "maxfun": "max_feval",
    "maxeval": "max_feval",
    "maxit": "max_feval",
    "xtol_abs": "rho_end",
    "xtolabs": "rho_end",
    "xtol_rel": "rho_end",
    "xtolrel": "rho_end",
    "rhoend": "rho_end",
    "rhobeg": "rho_begin",
    "ftol_abs": "ftol_abs",
    "ftolabs": "ftol_abs",
    "ftol_rel": "ftol_rel",
    "ftolrel": "ftol_rel",
}
_DISPLAY = ("iprint", "verbose", "print_level", "trace")
# The warnings each convergence check emits, by the start of their text.
_CHECKS = {
    "check.conv.grad": ("Model failed to converge with max|grad|", "unable to evaluate scaled gradient"),
    "check.conv.hess": ("Model failed to converge: degenerate Hessian", "Model is nearly unidentifiable"),
    "check.conv.singular": ("boundary (singular) fit",),
}
_ACTIONS = ("ignore", "warning", "message", "stop")


@dataclass
class Control:
    """Parsed control options: the optimizer asked for, the optimizer
    settings the core takes, whether to compute derivatives, and what to do
    with each convergence check's warnings."""

    optimizer: str | None = None
    settings: dict[str, float] = field(default_factory=dict)
    derivatives: bool | None = None
    checks: dict[str, str] = field(default_factory=dict)

    @property
    def method(self) -> str:
        """The core's method: ``"auto"``, ``"bfgs"``, ``"bobyqa"`` or
        ``"nelder_mead"`` (of the first name where glmerControl gives one a
        stage)."""
        tuned = [k for k in self.settings if k in _BOBYQA_SETTINGS]
        if self.optimizer is None:
            return "bobyqa" if tuned else "auto"
        method = METHODS[self.optimizer.split(", ")[0]]
        if tuned and method == "bfgs":
            raise DataError(
                f"control: {', '.join(tuned)} tune BOBYQA; optimizer {self.optimizer!r} runs BFGS, "
                "which takes maxfun only (or ask for optimizer='bobyqa')"
            )
        return "bobyqa" if tuned and method != "nelder_mead" else method

    def with_optimizer(self, optimizer: str | None) -> Control:
        """``fit(optimizer=...)`` on top of ``control``: a name from
        :data:`OPTIMIZERS`, which control's own ``optimizer`` must not
        contradict."""
        if optimizer is None:
            return self
        _check_optimizer(optimizer)
        if self.optimizer is not None and self.optimizer != optimizer:
            raise DataError(f"optimizer={optimizer!r} contradicts control's optimizer {self.optimizer!r}")
        self.optimizer = optimizer
        return self

    def filter_warnings(self, warnings: list[str]) -> list[str]:
        """The fit's warnings with the checks set to ``"ignore"`` left out;
        raises DataError for a check set to ``"stop"`` that fired."""
        kept = []
        for w in warnings:
            check = next((c for c, starts in _CHECKS.items() if w.startswith(starts)), None)
            action = self.checks.get(check, "warning") if check else "warning"
            if action == "stop":
                raise DataError(f"{w} (control: {check} = 'stop')")
            if action != "ignore":
                kept.append(w)
        return kept


def parse_control(control: str | Mapping[str, Any] | None) -> Control:
    """``control`` as R text or a dict, checked and mapped (see the module docs)."""
    if control is None or (isinstance(control, str) and not control.strip()):
        return Control()
    if isinstance(control, str):
        entries = _RText(control).arguments()
    elif isinstance(control, Mapping):
        entries = dict(control)
    else:
        raise DataError(f"control must be lme4's control text or a dict, not {type(control).__name__}")
    out = Control()
    for key, value in entries.items():
        _apply(out, str(key), value)
    return out


def control_from_fit(control: str | Mapping[str, Any] | None, old_optimizer: bool) -> Control:
    """``fit(control=, old_optimizer=)``: pymer4's ``old_optimizer=True``
    stands for ``control="optimizer='bobyqa'"`` and excludes ``control``."""
    if old_optimizer:
        if control:
            raise DataError("Must specify EITHER control OR old_optimizer not both")
        return Control(optimizer="bobyqa")
    return parse_control(control)


def _apply(out: Control, key: str, value: Any) -> None:
    if key == "optimizer":
        names = value if isinstance(value, list) else [value]
        for name in names:
            _check_optimizer(name)
        out.optimizer = ", ".join(str(n) for n in names)
    elif key == "optCtrl":
        if not isinstance(value, Mapping):
            raise DataError("control: optCtrl must be a list(...) / dict of optimizer settings")
        for k, v in value.items():
            _apply(out, str(k), v)
    elif key == "calc.derivs":
        if not isinstance(value, bool):
            raise DataError("control: calc.derivs must be TRUE or FALSE")
        out.derivatives = value
    elif key in _CHECKS:
        out.checks[key] = _check_action(key, value)
    elif key.lower() in _SETTINGS:
        out.settings[_SETTINGS[key.lower()]] = _number(key, value)
    elif key in _DISPLAY:
        return
    else:
        known = ["optimizer", "optCtrl", "calc.derivs", *_CHECKS, *sorted({k for k in _SETTINGS})]
        raise DataError(f"control: unknown option '{key}' (known: {', '.join(known)})")


def _check_optimizer(name: Any) -> None:
    if name not in METHODS:
        raise DataError(f"unknown optimizer {name!r} (known: {', '.join(OPTIMIZERS)})")


def _number(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise DataError(f"control: {key} must be a number, not {value!r}")
    return float(value)


def _check_action(key: str, value: Any) -> str:
    """A check's action: a string, or lme4's ``.makeCC(action, tol = ...)``
    (only its action applies: the tolerances are lme4's)."""
    if isinstance(value, Mapping):
        if set(value) - {"action", "tol", "relTol"}:
            raise DataError(f"control: {key} takes .makeCC(action, tol = ...)")
        if "tol" in value or "relTol" in value:
            raise DataError(f"control: {key}'s tolerance is lme4's and cannot be changed here; set its action only")
        value = value.get("action")
    if value not in _ACTIONS:
        raise DataError(f"control: {key} must be one of {', '.join(_ACTIONS)}, not {value!r}")
    return str(value)


class _RText:
    """A reader of the R argument lists pymer4 passes: ``name = value`` pairs
    separated by commas, values being strings, numbers, TRUE/FALSE, and calls
    ``list(...)``, ``c(...)`` and ``.makeCC(...)``."""

    _TOKEN = re.compile(
        r"\s*(?:(?P<str>'[^']*'|\"[^\"]*\")|(?P<num>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?[L]?)"
        r"|(?P<name>[A-Za-z._][A-Za-z0-9._]*)|(?P<op>[=(),]))"
    )

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[tuple[str, str, int]] = []
        pos = 0
        while pos < len(text):
            if text[pos:].strip() == "":
                break
            m = self._TOKEN.match(text, pos)
            if not m or m.end() == pos:
                raise DataError(f"control: cannot read {text[pos:].strip()[:20]!r} (at position {pos} of {text!r})")
            kind = m.lastgroup or ""
            self.tokens.append((kind, m.group(kind), m.start(kind)))
            pos = m.end()
        self.i = 0

    def _peek(self) -> tuple[str, str, int]:
        return self.tokens[self.i] if self.i < len(self.tokens) else ("end", "", len(self.text))

    def _take(self, kind: str, value: str | None = None) -> str:
        k, v, pos = self._peek()
        if k != kind or (value is not None and v != value):
            want = value or kind
            raise DataError(f"control: expected {want!r} at position {pos} of {self.text!r}")
        self.i += 1
        return v

    def arguments(self) -> dict[str, Any]:
        named, positional = self._arglist(end="end")
        if positional:
            raise DataError(f"control: every option needs a name (name = value) in {self.text!r}")
        return named

    def _arglist(self, end: str) -> tuple[dict[str, Any], list[Any]]:
        named: dict[str, Any] = {}
        positional: list[Any] = []
        while True:
            k, v, _ = self._peek()
            if (end == "end" and k == "end") or (k == "op" and v == ")"):
                break
            nxt = self.tokens[self.i + 1] if self.i + 1 < len(self.tokens) else ("end", "", 0)
            if k == "name" and nxt[0] == "op" and nxt[1] == "=":
                self.i += 2
                named[v] = self._value()
            else:
                positional.append(self._value())
            k, v, _ = self._peek()
            if k == "op" and v == ",":
                self.i += 1
                continue
            break
        return named, positional

    def _value(self) -> Any:
        k, v, _ = self._peek()
        if k == "str":
            self.i += 1
            return v[1:-1]
        if k == "num":
            self.i += 1
            return float(v.rstrip("L"))
        if k == "name":
            self.i += 1
            if v in ("TRUE", "T", "FALSE", "F"):
                return v in ("TRUE", "T")
            if v == "NULL":
                return None
            self._take("op", "(")
            named, positional = self._arglist(end=")")
            self._take("op", ")")
            if v == "list":
                if positional:
                    raise DataError(f"control: list() entries need names in {self.text!r}")
                return named
            if v == "c":
                return positional
            if v == ".makeCC":
                return {"action": positional[0] if positional else named.get("action"), **named}
            raise DataError(f"control: unknown function {v}() in {self.text!r}")
        raise DataError(f"control: expected a value at position {self._peek()[2]} of {self.text!r}")
