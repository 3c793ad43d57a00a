//! Python columns into the core's DataFrame. The Python side sends a table as
//! `(nrows, [(name, column), ...])` where a column is a float64 numpy array
//! (borrowed, not copied) or a factor `(codes: uint32 array, levels:
//! list[str], ordered)`; the number of rows travels apart so that a model
//! reading no column (`y ~ 1` predicted without random effects) still has rows.

use std::borrow::Cow;

use mixedmodels::data::{Column, DataFrame, Factor};
use numpy::PyReadonlyArray1;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};

/// A table from Python: its number of rows and its `(name, column)` pairs.
pub type PyFrame<'py> = (usize, Bound<'py, PyList>);

/// Borrow the columns, build a DataFrame over them, and run `f` on it.
pub fn with_frame<R>(frame: &PyFrame<'_>, f: impl FnOnce(&DataFrame) -> PyResult<R>) -> PyResult<R> {
    let (nrows, columns) = frame;
    let mut numeric: Vec<(String, PyReadonlyArray1<f64>)> = Vec::new();
    let mut factors: Vec<(String, Factor)> = Vec::new();
    for item in columns.iter() {
        let pair = item.cast::<PyTuple>()?;
        let name: String = pair.get_item(0)?.extract()?;
        let value = pair.get_item(1)?;
        if let Ok(arr) = value.extract::<PyReadonlyArray1<f64>>() {
            numeric.push((name, arr));
        } else if let Ok(t) = value.cast::<PyTuple>() {
            let codes: PyReadonlyArray1<u32> = t.get_item(0)?.extract()?;
            let levels: Vec<String> = t.get_item(1)?.extract()?;
            let ordered: bool = t.get_item(2)?.extract()?;
            let codes = codes.as_array().to_vec();
            factors.push((name, Factor { codes, levels, ordered }));
        } else {
            return Err(PyTypeError::new_err(format!("column '{name}': expected a float64 array or a factor tuple")));
        }
    }
    let mut df = DataFrame::with_rows(*nrows);
    for (name, a) in &numeric {
        let col = match a.as_slice() {
            Ok(s) => Cow::Borrowed(s),
            Err(_) => Cow::Owned(a.as_array().to_vec()),
        };
        df.push(name.clone(), Column::Numeric(col)).map_err(crate::errors::to_py)?;
    }
    for (name, f) in factors {
        df.push(name, Column::Factor(f)).map_err(crate::errors::to_py)?;
    }
    f(&df)
}
