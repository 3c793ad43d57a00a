//! Conversions between Python objects and the core's types: arrays out
//! (handed to numpy without a copy), contrast specifications in, the names of
//! enums parsed at the boundary, and the dicts of random-effects terms.

use mixedmodels::data::FitRows;
use mixedmodels::design::Contrasts;
use mixedmodels::fitted::MixedFit;
use mixedmodels::glmm::Link;
use mixedmodels::inference::DdfMethod;
use mixedmodels::residuals::ResidualKind;
use numpy::npyffi::NPY_ORDER;
use numpy::{PyArray1, PyArray2, PyArrayMethods};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::errors::{data_error, to_py};

/// A vector handed to numpy (numpy takes over the buffer).
pub fn vector(py: Python<'_>, values: Vec<f64>) -> Bound<'_, PyArray1<f64>> {
    PyArray1::from_vec(py, values)
}

/// A column-major `nrows x ncols` matrix handed to numpy as a Fortran-order
/// array: the buffer moves, nothing is copied.
pub fn matrix(py: Python<'_>, values: Vec<f64>, nrows: usize, ncols: usize) -> PyResult<Bound<'_, PyArray2<f64>>> {
    PyArray1::from_vec(py, values).reshape_with_order([nrows, ncols], NPY_ORDER::NPY_FORTRANORDER)
}

/// A row-major `nrows x ncols` matrix handed to numpy (C order, no copy).
pub fn matrix_rowmajor(
    py: Python<'_>,
    values: Vec<f64>,
    nrows: usize,
    ncols: usize,
) -> PyResult<Bound<'_, PyArray2<f64>>> {
    PyArray1::from_vec(py, values).reshape([nrows, ncols])
}

/// The positions of the rows a fit used, as a numpy int64 array.
pub fn positions<'py>(py: Python<'py>, rows: &FitRows) -> Bound<'py, PyArray1<i64>> {
    PyArray1::from_iter(py, rows.positions.iter().map(|&i| i as i64))
}

/// Contrasts from Python, by variable: a name (`"sum"`) or `(values
/// column-major, ncol, names | None)`.
pub fn contrasts_from_py(contrasts: Option<Vec<(String, Bound<'_, PyAny>)>>) -> PyResult<Vec<(String, Contrasts)>> {
    contrasts.unwrap_or_default().iter().map(|(n, c)| Ok((n.clone(), contrast_from_py(c)?))).collect()
}

fn contrast_from_py(obj: &Bound<'_, PyAny>) -> PyResult<Contrasts> {
    if let Ok(name) = obj.extract::<String>() {
        return Contrasts::parse(&name).ok_or_else(|| {
            data_error(format!("unknown contrast '{name}' (use treatment, sum, helmert, poly or a matrix)"))
        });
    }
    let (values, ncol, names): (Vec<f64>, usize, Option<Vec<String>>) = obj.extract()?;
    Ok(Contrasts::Matrix { values, ncol, names })
}

/// Enums named by strings on the Python side, parsed where they cross.
macro_rules! named_enum_arg {
    ($arg:ident, $core:ty) => {
        #[doc = concat!("A `", stringify!($core), "` by name, parsed at the boundary.")]
        pub struct $arg(pub $core);

        impl<'a, 'py> FromPyObject<'a, 'py> for $arg {
            type Error = PyErr;

            fn extract(ob: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
                let name: String = ob.extract()?;
                <$core>::parse(&name).map($arg).map_err(to_py)
            }
        }
    };
}

named_enum_arg!(LinkArg, Link);
named_enum_arg!(ResidualKindArg, ResidualKind);
named_enum_arg!(DdfArg, DdfMethod);

/// One dict a random-effects term: group, cnames, levels, conditional modes
/// (levels x q), covariance (q x q, the response's scale), theta offset.
pub fn term_dicts<'py>(py: Python<'py>, fit: &dyn MixedFit) -> PyResult<Vec<Bound<'py, PyDict>>> {
    let par = fit.parameterization();
    let mut out = Vec::new();
    for (k, t) in fit.random_terms().iter().enumerate() {
        let d = PyDict::new(py);
        d.set_item("group", &t.group)?;
        d.set_item("cnames", &t.cnames)?;
        d.set_item("levels", &t.levels)?;
        let q = t.q();
        d.set_item("ranef", matrix_rowmajor(py, fit.ranef()[k].clone(), t.nlevels(), q)?)?;
        d.set_item("covariance", matrix(py, fit.ranef_covariance(k), q, q)?)?;
        d.set_item("theta_offset", par.terms[k].theta_offset)?;
        out.push(d);
    }
    Ok(out)
}
