"""The base of every fitted model: the formula, the data, the rows the fit
used, the fixed-effects design, the coefficients and the warnings.

:class:`FittedModel` holds the state every model shares and exposes it as a
read-only interface. Feature modules (anova, post hoc, intervals, comparison,
diagnostics, plots, io) take a model and read this interface only: its
properties and the few methods documented here, never private attributes.
What a kind of model adds (random effects, REML, families) lives in its own
class (:mod:`mixedmodels.mixed`, :mod:`mixedmodels.lmer`,
:mod:`mixedmodels.glmer`), and what kind it is reads from ``is_generalized``
and ``is_mixed``, never from ``isinstance``.

Every number comes from the Rust core's fitted model (``core``); Python
arranges them in tables.
"""

from __future__ import annotations

import warnings as _warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import polars as pl

from mixedmodels import _core, _display, _format
from mixedmodels._frame import CoreFrame, attach_weights, check_columns, column_names_of, missing_rows, to_polars
from mixedmodels._table import result_table
from mixedmodels.contrasts import Coding
from mixedmodels.exceptions import DataError, UnavailableError
from mixedmodels.sources import source_of
from mixedmodels.update_formula import update_formula

__all__ = ["FittedModel", "FixedTerm", "Residuals"]

# fit() arguments that change what is shown, not what is fitted
_DISPLAY_OPTIONS = ("REML", "summarize", "no_warnings", "verbose", "conf_int", "n_boot", "seed")


@dataclass(frozen=True)
class FixedTerm:
    """A term of the fixed part as R's ``terms()`` labels it: ``label``
    (``"Days:grp"``), its ``variables``, whether each is ``numeric`` (not a
    factor), and the ``columns`` of the design (indices into the coefficients)."""

    label: str
    variables: list[str]
    numeric: list[bool]
    columns: list[int]


class FittedModel:
    """State and read-only interface shared by every model.

    Subclasses set ``is_generalized`` / ``is_mixed``, implement ``fit`` (which
    calls :meth:`_prepare_fit` then :meth:`_finish_fit`), ``_coef_table`` and
    ``summary_text``.
    """

    is_generalized: ClassVar[bool] = False
    """Whether the response has a non-Gaussian family (a link, no residual F tests)."""
    is_mixed: ClassVar[bool] = False
    """Whether the model has random effects."""
    _classes: ClassVar[dict[str, type[FittedModel]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        FittedModel._classes[cls.__name__] = cls  # the classes a saved model may name

    def __init__(self, formula: str, data: Any) -> None:
        self.formula = formula
        self.family = "gaussian"
        self.source = source_of(data)
        if self.source is None:
            self._columns = list(_core.formula_columns(formula, data_columns=column_names_of(data)))
            self.data = to_polars(data, columns=self._columns)
        else:
            names = self.source.columns()
            self._columns = list(_core.formula_columns(formula, data_columns=names))
            check_columns(names, self._columns)
            self.data = self.source.frame
        self._streamed: Any = None
        self.fitted = False
        self._fit: Any = None
        self._coding = Coding()
        self._frame = self.data  # the data as fitted: level orders applied, weights attached
        self._weights_name: str | None = None
        self._fit_options: dict[str, Any] = {}
        self.REML = False
        self._coefs: pl.DataFrame | None = None
        self.fits: np.ndarray | None = None
        self.residuals: np.ndarray | None = None
        self.logLike: float | None = None
        self.AIC: float | None = None
        self.BIC: float | None = None
        self.design_matrix: pl.DataFrame | None = None
        self.warnings: list[str] = []
        self.factors: dict[str, list[str]] | None = None
        self.contrast_codes: dict[str, np.ndarray] | None = None
        self.ordered = False

    # ------------------------------------------------------------ fitting
    def _prepare_fit(
        self,
        factors: Any,
        ordered: bool,
        weights: Any,
        contrasts: Any,
        options: dict[str, Any],
    ) -> tuple[CoreFrame, str | None, list[Any]]:
        """Apply the factor coding and attach the weights; record the fit's
        options. Returns the data for the core, the weights column and the contrasts."""
        self._fit_options = {"factors": factors, "ordered": ordered, "weights": weights, "contrasts": contrasts}
        self._fit_options.update(options)
        self.ordered = ordered
        if self.source is not None:
            coding, weight_name = self.source.coding(factors, ordered, contrasts, weights)
            self._coding, self._frame, self._weights_name = coding, self.data, weight_name
            self.factors = coding.levels or None
            self.contrast_codes = coding.contrast_codes or None
            return (0, []), weight_name, coding.contrasts
        coding = Coding.from_fit_arguments(self.data, factors, ordered, contrasts)
        frame = coding.apply(self.data)
        names = list(self._columns)
        weight_name = None
        if weights is not None:
            frame, weight_name = attach_weights(frame, weights)
            names.append(weight_name)
        self._coding, self._frame, self._weights_name = coding, frame, weight_name
        self.factors = coding.levels or None
        self.contrast_codes = coding.contrast_codes or None
        return coding.core_frame(frame, names), weight_name, coding.contrasts

    def _prepare_saved_fit(self, options: dict[str, Any]) -> tuple[CoreFrame, str | None, list[Any]]:
        """:meth:`_prepare_fit` with a saved model's recorded ``fit()`` options."""
        coding = ("factors", "ordered", "weights", "contrasts")
        rest = {k: v for k, v in options.items() if k not in coding}
        return self._prepare_fit(*(options[k] for k in coding), rest)

    def _finish_fit(self, summarize: bool, verbose: bool, no_warnings: bool) -> pl.DataFrame:
        """Collect the results of the core's fit, warn, print."""
        self.fitted = True
        self._collect_results()
        if not no_warnings:
            for w in self.warnings:
                _warnings.warn(w, stacklevel=3)
        if verbose:
            print(_display.optimizer_report(self))
        if summarize:
            print(self.summary_text())
        assert self.coefs is not None
        return self.coefs

    def _warn(self, no_warnings: bool) -> None:
        """Issue the fit's warnings as UserWarnings (they stay in ``warnings``)."""
        if not no_warnings:
            for w in self.warnings:
                _warnings.warn(w, stacklevel=4)

    def _add_fit_columns(self, columns: dict[str, np.ndarray]) -> None:
        """Add per-row results to ``data``, as pymer4 adds ``fits`` and
        ``residuals``: values on the rows of the fit, null on the rows it left out."""
        rows = self.fit_rows
        out = []
        for name, values in columns.items():
            full = np.full(self.data.height, np.nan)
            full[rows] = values
            out.append(pl.Series(name, full).fill_nan(None))
        self.data = self.data.with_columns(out)

    def _collect_results(self) -> None:
        f = self._fit
        self.coefs = self._coef_table()
        self.logLike = float(f.loglik)
        self.AIC = float(f.aic)
        self.BIC = float(f.bic)
        self.design_matrix = (
            None if self.streamed else pl.DataFrame(np.asarray(f.design_matrix), schema=self.fixed_names, orient="row")
        )
        factor_vars = {v for t in self.fixed_terms for v, num in zip(t.variables, t.numeric, strict=True) if not num}
        self.warnings = [_python_advice(w) for w in f.warnings] + self._coding.unused_warnings(factor_vars)

    @property
    def coefs(self) -> pl.DataFrame | None:
        """The coefficient table (a ``polars.DataFrame`` that prints every
        column, see :mod:`mixedmodels._table`); None before ``fit``."""
        return self._coefs

    @coefs.setter
    def coefs(self, table: pl.DataFrame | None) -> None:
        self._coefs = result_table(table)

    def _coef_table(self) -> pl.DataFrame:
        raise NotImplementedError

    def summary_text(self) -> str:
        raise NotImplementedError

    def _check_fitted(self) -> None:
        if not self.fitted:
            raise DataError("the model has not been fitted yet: call fit() first")

    # ------------------------------------------------- the core's fit
    @property
    def core(self) -> Any:
        """The core's fitted model (``mixedmodels._core.LmerFit`` or
        ``GlmerFit``): for feature modules that run a routine of the core
        on the fit (profiles, bootstrap, ...)."""
        self._check_fitted()
        return self._fit

    @property
    def fit_options(self) -> dict[str, Any]:
        """The keyword arguments of ``fit`` that define the fit (not those that
        only change what is shown): a refit with them reproduces it."""
        self._check_fitted()
        return {k: v for k, v in self._fit_options.items() if k not in _DISPLAY_OPTIONS}

    def with_formula(self, formula: str | None = None, data: Any = None) -> FittedModel:
        """An unfitted model of the same kind (and family) on the same data
        (or ``data``), with ``formula`` (default: this model's)."""
        return type(self)(formula or self.formula, self.data if data is None else data)

    def update(self, formula: str | None = None, data: Any = None, **fit_options: Any) -> FittedModel:
        """A new model fitted like this one, with changes: R's ``update()``.

        ``formula`` is an update formula in R's syntax, ``.`` standing for
        this model's left or right side: ``". ~ . + x"`` adds a term,
        ``". ~ . - x"`` removes one (``- a:b`` from ``a * b`` leaves
        ``a + b``), ``". ~ . - (Days | Subject) + (1 | Subject)"`` replaces
        a random-effect term, ``"log(.) ~ ."`` transforms the response; a
        formula without ``.`` replaces the model's (see
        :func:`mixedmodels.update_formula.update_formula`, which refuses
        to remove a term the model does not have). ``data`` replaces the
        data; ``fit_options`` replace or add ``fit()`` arguments (``REML=False``,
        ``weights=...``); the others, and REML or ML, are this fit's. The
        new model is fitted quietly (``summarize=False`` unless given) and
        returned; this one is not changed."""
        options = {k: v for k, v in self.fit_options.items() if v is not None}  # None: the default
        if self.is_mixed:
            options["REML"] = self.REML
        options["summarize"] = False
        options.update(fit_options)
        new_formula = self.formula if formula is None else update_formula(self.formula, formula)
        model = self.with_formula(new_formula, data)
        model.fit(**options)  # type: ignore[attr-defined]
        return model

    # ------------------------------------------------ the rows of the fit
    @property
    def streamed(self) -> bool:
        """Whether the model is fitted out of core: its data (a LazyFrame, files,
        a Dask or Spark DataFrame) stay in their engine, the fit is made from
        sums over them, and row-level results are lazy frames of the engine."""
        return self.source is not None

    @property
    def engine(self) -> str:
        """Where the rows are: ``"memory"``, or the engine of an out-of-core fit
        (``"polars"``, ``"dask"``, ``"spark"``)."""
        return "memory" if self.source is None else self.source.engine

    def _check_rows_held(self, what: str) -> None:
        """Refuse a row-level result of an out-of-core fit, saying why."""
        if self.source is not None:
            raise UnavailableError(
                f"{what}: this model was fitted out of core ({self.engine}) from sums over the data, and its "
                "rows stay in the source; row-level results are lazy frames (fits, residuals, predict)"
            )

    @property
    def nobs(self) -> int:
        """The number of rows the fit used."""
        self._check_fitted()
        return int(self._fit.nobs)

    @property
    def fit_rows(self) -> np.ndarray:
        """The position in ``data`` of each row the fit used (rows with a
        missing value in a column the model reads are left out, as R's na.omit)."""
        self._check_fitted()
        self._check_rows_held("fit_rows")
        return np.asarray(self._fit.fit_rows)

    @property
    def fit_mask(self) -> np.ndarray:
        """One boolean a row of ``data``: did the fit use it?"""
        self._check_fitted()
        self._check_rows_held("fit_mask")
        return np.asarray(self._fit.fit_mask)

    @property
    def fit_frame(self) -> pl.DataFrame:
        """The rows of the data the fit used, as the fit read them (level
        orders of ``fit(factors=...)`` applied, an array of weights attached)."""
        self._check_rows_held("fit_frame")
        return self._frame[self.fit_rows]

    @property
    def prior_weights(self) -> np.ndarray:
        """The prior weights of the rows of the fit (ones when unweighted)."""
        self._check_fitted()
        self._check_rows_held("prior_weights")
        return np.asarray(self._fit.prior_weights)

    @property
    def offset(self) -> np.ndarray:
        """The formula's offsets on the rows of the fit (zeros without ``offset()``)."""
        self._check_fitted()
        self._check_rows_held("offset")
        return np.asarray(self._fit.offset)

    @property
    def response(self) -> np.ndarray:
        """The response on the rows of the fit (a binomial model's as proportions)."""
        self._check_fitted()
        self._check_rows_held("response")
        return np.asarray(self._fit.response)

    def complete_rows(self, columns: Sequence[str]) -> np.ndarray:
        """One boolean a row of ``data``: no missing value in ``columns`` nor in
        the prior weights; the rows a fit of a formula reading these columns
        would use (R's na.omit)."""
        self._check_fitted()
        self._check_rows_held("complete_rows")
        names = [*columns, *([self._weights_name] if self._weights_name else [])]
        return ~missing_rows(self._frame, names)

    # ------------------------------------------------ the fixed effects
    @property
    def fixed_names(self) -> list[str]:
        """The names of the fixed-effects coefficients (R's ``names(fixef(m))``)."""
        self._check_fitted()
        return list(self._fit.fixed_names)

    @property
    def beta(self) -> np.ndarray:
        """The fixed-effects estimates."""
        self._check_fitted()
        return np.asarray(self._fit.beta)

    @property
    def vcov(self) -> np.ndarray:
        """Covariance of the fixed-effects estimates."""
        self._check_fitted()
        return np.asarray(self._fit.vcov)

    @property
    def fixed_terms(self) -> list[FixedTerm]:
        """The terms of the fixed part, in R's order (see :class:`FixedTerm`)."""
        self._check_fitted()
        return [
            FixedTerm(t["label"], list(t["variables"]), [bool(v) for v in t["numeric"]], list(t["columns"]))
            for t in self._fit.term_info()
        ]

    @property
    def dropped_columns(self) -> list[str]:
        """Columns of the design dropped as linearly dependent (rank deficiency)."""
        self._check_fitted()
        return list(self._fit.dropped_columns)

    @property
    def npar(self) -> int:
        """The number of parameters (R's ``attr(logLik(m), "df")``)."""
        self._check_fitted()
        return int(self._fit.npar)

    def columns_read(self, formula: str | None = None, response: bool = True, groups: bool = True) -> list[str]:
        """The data columns the model's formula (or ``formula``) reads: with or
        without the response and the grouping factors. A data column named
        like an R constant (``F``, ``T``, ``pi``) is one of them, as in R."""
        formula = self.formula if formula is None else formula
        names = self.source.columns() if self.source is not None else self.data.columns
        return list(_core.formula_columns(formula, response, groups, data_columns=names))

    def core_frame(self, data: pl.DataFrame, columns: Sequence[str]) -> CoreFrame:
        """``data``'s ``columns`` coded as the fit codes them (level orders,
        ordered factors), as the core's routines take them."""
        return self._coding.core_frame(data, columns)

    def fixed_design(self, data: pl.DataFrame) -> np.ndarray:
        """The fixed-effects design of new ``data`` in the fit's coding (the
        columns the fit kept), R's ``model.matrix(m, newdata)``."""
        self._check_fitted()
        needed = [c for c in self.columns_read(response=False, groups=False) if c in data.columns]
        return np.asarray(self._fit.model_matrix(self.core_frame(data, needed)))

    def full_design(
        self, data: pl.DataFrame, formula: str | None = None, contrasts: list[Any] | None = None
    ) -> tuple[np.ndarray, list[str], list[int]]:
        """R's ``model.matrix`` of the fixed part of ``formula`` (default: the
        model's) on ``data``, every column kept (no rank check): the matrix, the
        column names and R's ``assign``. The factors keep the fit's level orders;
        ``contrasts`` (``(variable, contrast)`` pairs, e.g. ``("f", "treatment")``)
        replaces the fit's contrasts; ``[]`` gives R's defaults."""
        formula = self.formula if formula is None else formula
        needed = [c for c in self.columns_read(formula, response=False, groups=False) if c in data.columns]
        contrasts = self._coding.contrasts if contrasts is None else contrasts
        x, names, assign = _core.model_matrix(formula, self.core_frame(data, needed), contrasts=contrasts)
        return np.asarray(x), list(names), list(assign)

    # ------------------------------------------------------------ keeping
    @classmethod
    def model_class(cls, name: str) -> type[FittedModel] | None:
        """The model class of that name (``"Lmer"``, ``"Glmer"``, ...), for loading saved models."""
        return FittedModel._classes.get(name)

    def __getstate__(self) -> dict[str, Any]:
        """The model as plain data, for ``pickle``, ``copy.deepcopy`` and
        :func:`mixedmodels.io.save_model`: what it was given (formula, data,
        family), the ``fit()`` arguments and the estimates; the core's objects
        are rebuilt from them, at those estimates, when it is loaded."""
        if self.source is not None:
            raise UnavailableError(
                f"an out-of-core model ({self.engine}) is not saved or pickled: its data stay in the source; "
                "keep the source (files, a query) and the fit's arguments to fit it again"
            )
        state: dict[str, Any] = {
            "format_version": _format.FORMAT_VERSION,
            "mixedmodels_version": _core.__version__,
            "class": type(self).__name__,
            "formula": self.formula,
            "init": self._init_arguments(),
            "data": self.data,
            "fitted": self.fitted,
        }
        if self.fitted:
            state.update(
                fit_options=dict(self._fit_options),
                estimates=self._estimates(),
                coefs=self.coefs,
                warnings=list(self.warnings),
            )
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        _format.check_format({"format": _format.FORMAT, **state}, f"a saved {state.get('class', 'model')}")
        type(self).__init__(self, state["formula"], state["data"], **state["init"])
        if state["fitted"]:
            self._restore_fit(state["fit_options"], state["estimates"])
            self.coefs = state["coefs"]
            self.warnings = list(state["warnings"])

    def _init_arguments(self) -> dict[str, Any]:
        """The constructor's arguments beyond the formula and the data."""
        return {}

    def _estimates(self) -> dict[str, Any]:
        """What rebuilds the fit without optimizing (plain data); nothing for
        a closed-form fit."""
        return {}

    def _restore_fit(self, options: dict[str, Any], estimates: dict[str, Any]) -> None:
        """Rebuild the core's fit from the saved ``fit()`` ``options`` at the
        saved ``estimates``, without optimizing; every model class does."""
        raise NotImplementedError

    # ------------------------------------------------------------ showing
    def summary(self) -> pl.DataFrame:
        """Print the summary and return ``coefs`` (pymer4's behaviour)."""
        print(self.summary_text())
        assert self.coefs is not None
        return self.coefs

    def __repr__(self) -> str:
        if not self.fitted:
            return f"{type(self).__name__}({self.formula!r}, family={self.family!r}) [not fitted]"
        return "\n".join(_display.text_lines(self))

    def _repr_html_(self) -> str:
        return _display.html(self)


_SINGULAR = "boundary (singular) fit: see help('isSingular')"
SINGULAR_ADVICE = (
    "boundary (singular) fit: a variance is estimated as zero or a correlation as +-1 "
    "(see m.ranef_var and m.ranef_corr); the random effects may be richer than the data support: "
    "consider a simpler random-effects structure (docs/getting_started.md, 'Singular fits')"
)


def _python_advice(warning: str) -> str:
    """A core warning as advice for Python users (lme4's points to R's help)."""
    return SINGULAR_ADVICE if warning == _SINGULAR else warning


def check_binomial_response(formula: str, family: str) -> None:
    """A ``cbind(successes, failures)`` response is binomial: say so when the
    family is another (R's message, "unknown function", helps no one)."""
    response = formula.split("~", 1)[0].strip()
    if response.replace(" ", "").startswith("cbind(") and family != "binomial":
        raise _core.FormulaError(
            f"'{formula}': cbind(successes, failures) is a binomial response; "
            'fit it with family="binomial" (Lmer(formula, data, family="binomial"))'
            + ("" if family == "gaussian" else f', not family="{family}"')
        )


class Residuals(np.ndarray):
    """An array of residuals that can also be called for another kind:
    ``model.residuals`` (the default kind) and ``model.residuals(type="pearson")``."""

    _of: Any

    def __new__(cls, values: np.ndarray, of: Any) -> Residuals:
        obj = np.asarray(values).view(cls)
        obj._of = of
        return obj

    def __array_finalize__(self, obj: Any) -> None:
        self._of = getattr(obj, "_of", None)

    def __call__(self, type: str = "response") -> np.ndarray:
        return np.asarray(self._of(type))
