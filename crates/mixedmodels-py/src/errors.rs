//! Core errors as Python exceptions. The classes are re-exported by
//! `mixedmodels.exceptions`; each derives from `MixedModelsError` and from the
//! builtin a Python user would expect (`ValueError`, `KeyError`, ...).

use mixedmodels::Error;
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;

create_exception!(_core, MixedModelsError, PyException, "Base class of the errors raised by mixedmodels.");
create_exception!(_core, FormulaError, MixedModelsError, "The formula does not parse or cannot be fitted.");
create_exception!(_core, ColumnError, MixedModelsError, "A column is missing or holds values the model cannot use.");
create_exception!(_core, DataError, MixedModelsError, "The data cannot support the model.");
create_exception!(_core, NumericalError, MixedModelsError, "A numerical failure the input made unavoidable.");

pub fn to_py(e: Error) -> PyErr {
    let msg = e.to_string();
    match e {
        Error::Formula { .. } => FormulaError::new_err(msg),
        Error::Column { .. } => ColumnError::new_err(msg),
        Error::Data(_) | Error::Argument(_) => DataError::new_err(msg),
        Error::Numerical(_) => NumericalError::new_err(msg),
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("MixedModelsError", py.get_type::<MixedModelsError>())?;
    m.add("FormulaError", py.get_type::<FormulaError>())?;
    m.add("ColumnError", py.get_type::<ColumnError>())?;
    m.add("DataError", py.get_type::<DataError>())?;
    m.add("NumericalError", py.get_type::<NumericalError>())?;
    Ok(())
}
