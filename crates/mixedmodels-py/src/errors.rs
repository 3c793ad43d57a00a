//! Core errors as Python exceptions. Each class derives from
//! `MixedModelsError` and from the builtin a Python user expects
//! (`FormulaError`, `ColumnError` and `DataError` are `ValueError`s,
//! `NumericalError` an `ArithmeticError`), so `except ValueError` catches a
//! missing column as the documentation says. `create_exception!` takes one
//! base, so the classes are made with Python's `type(name, bases, dict)` when
//! the module loads; `mixedmodels.exceptions` re-exports them.

use mixedmodels::Error;
use pyo3::exceptions::{PyArithmeticError, PyException, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple, PyType};

/// The exception classes, in the order they are made (the base first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Base,
    Formula,
    Column,
    Data,
    Numerical,
    Stopped,
}

impl Kind {
    const ALL: [Kind; 6] = [Kind::Base, Kind::Formula, Kind::Column, Kind::Data, Kind::Numerical, Kind::Stopped];

    fn name(self) -> &'static str {
        match self {
            Kind::Base => "MixedModelsError",
            Kind::Formula => "FormulaError",
            Kind::Column => "ColumnError",
            Kind::Data => "DataError",
            Kind::Numerical => "NumericalError",
            Kind::Stopped => "FitStoppedError",
        }
    }

    fn doc(self) -> &'static str {
        match self {
            Kind::Base => "Base class of the errors raised by mixedmodels.",
            Kind::Formula => "The formula does not parse or cannot be fitted (a ValueError).",
            Kind::Column => "A column is missing or holds values the model cannot use (a ValueError).",
            Kind::Data => "The data or an argument cannot support the model (a ValueError).",
            Kind::Numerical => "A numerical failure the input made unavoidable (an ArithmeticError).",
            Kind::Stopped => "The fit was stopped by its progress callback before it finished (a RuntimeError).",
        }
    }

    /// The builtin the class derives from besides `MixedModelsError`.
    fn builtin(self, py: Python<'_>) -> Bound<'_, PyType> {
        match self {
            Kind::Base => py.get_type::<PyException>(),
            Kind::Formula | Kind::Column | Kind::Data => py.get_type::<PyValueError>(),
            Kind::Numerical => py.get_type::<PyArithmeticError>(),
            Kind::Stopped => py.get_type::<PyRuntimeError>(),
        }
    }
}

static TYPES: [PyOnceLock<Py<PyType>>; 6] =
    [PyOnceLock::new(), PyOnceLock::new(), PyOnceLock::new(), PyOnceLock::new(), PyOnceLock::new(), PyOnceLock::new()];

/// The class of `kind`, made on first use.
pub fn exception_type(py: Python<'_>, kind: Kind) -> PyResult<Bound<'_, PyType>> {
    let cell = &TYPES[kind as usize];
    let ty = cell.get_or_try_init(py, || -> PyResult<Py<PyType>> {
        let bases = match kind {
            Kind::Base => PyTuple::new(py, [kind.builtin(py)])?,
            _ => PyTuple::new(py, [exception_type(py, Kind::Base)?, kind.builtin(py)])?,
        };
        let namespace = PyDict::new(py);
        namespace.set_item("__doc__", kind.doc())?;
        namespace.set_item("__module__", "mixedmodels._core")?;
        let made = py.get_type::<PyType>().call1((kind.name(), bases, namespace))?;
        Ok(made.cast_into::<PyType>()?.unbind())
    })?;
    Ok(ty.bind(py).clone())
}

/// An exception of `kind` with `message`.
pub fn new_error(kind: Kind, message: String) -> PyErr {
    Python::attach(|py| match exception_type(py, kind) {
        Ok(ty) => PyErr::from_type(ty, message),
        Err(e) => e,
    })
}

/// A `DataError` (a bad argument or data).
pub fn data_error(message: String) -> PyErr {
    new_error(Kind::Data, message)
}

pub fn to_py(e: Error) -> PyErr {
    let kind = match e {
        Error::Formula { .. } => Kind::Formula,
        Error::Column { .. } => Kind::Column,
        Error::Data(_) | Error::Argument(_) => Kind::Data,
        Error::Numerical(_) => Kind::Numerical,
        Error::Interrupted(_) => Kind::Stopped,
    };
    new_error(kind, e.to_string())
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    for kind in Kind::ALL {
        m.add(kind.name(), exception_type(m.py(), kind)?)?;
    }
    Ok(())
}
