//! Conversions shared by the model classes: arrays, contrast specs, term tables.

use mixedmodels::data::FitRows;
use mixedmodels::design::{Contrasts, ReTerm};
use mixedmodels::model::Parameterization;
use numpy::{PyArray1, PyArray2};
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// A contrast from Python: a name (`"sum"`) or `(values column-major, ncol, names|None)`.
pub fn contrast_from_py(obj: &Bound<'_, PyAny>) -> PyResult<Contrasts> {
    if let Ok(name) = obj.extract::<String>() {
        return Contrasts::parse(&name).ok_or_else(|| {
            crate::errors::DataError::new_err(format!(
                "unknown contrast '{name}' (use treatment, sum, helmert, poly or a matrix)"
            ))
        });
    }
    let (values, ncol, names): (Vec<f64>, usize, Option<Vec<String>>) = obj.extract()?;
    Ok(Contrasts::Matrix { values, ncol, names })
}

pub fn array2<'py>(py: Python<'py>, values: &[f64], nrows: usize, ncols: usize) -> PyResult<Bound<'py, PyArray2<f64>>> {
    let rows: Vec<Vec<f64>> = (0..nrows).map(|i| (0..ncols).map(|j| values[j * nrows + i]).collect()).collect();
    PyArray2::from_vec2(py, &rows).map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))
}

pub fn array_rowmajor<'py>(
    py: Python<'py>,
    values: &[f64],
    nrows: usize,
    ncols: usize,
) -> PyResult<Bound<'py, PyArray2<f64>>> {
    let rows: Vec<Vec<f64>> = (0..nrows).map(|i| values[i * ncols..(i + 1) * ncols].to_vec()).collect();
    PyArray2::from_vec2(py, &rows).map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))
}

/// One dict a random-effects term: group, cnames, levels, conditional modes
/// (levels x q), covariance (`cov_scale` lambda lambda'), theta offset.
pub fn term_dicts<'py>(
    py: Python<'py>,
    terms: &[ReTerm],
    par: &Parameterization,
    theta: &[f64],
    ranef: &[Vec<f64>],
    cov_scale: f64,
) -> PyResult<Vec<Bound<'py, PyDict>>> {
    let mut out = Vec::new();
    for (k, t) in terms.iter().enumerate() {
        let d = PyDict::new(py);
        d.set_item("group", &t.group)?;
        d.set_item("cnames", &t.cnames)?;
        d.set_item("levels", &t.levels)?;
        let q = t.q();
        d.set_item("ranef", array_rowmajor(py, &ranef[k], t.nlevels(), q)?)?;
        let cov: Vec<f64> = par.relative_covariance(theta, k).iter().map(|v| v * cov_scale).collect();
        d.set_item("covariance", array2(py, &cov, q, q)?)?;
        d.set_item("theta_offset", par.terms[k].theta_offset)?;
        out.push(d);
    }
    Ok(out)
}

/// The positions of the rows a fit used, as a numpy int64 array.
pub fn positions<'py>(py: Python<'py>, rows: &FitRows) -> Bound<'py, PyArray1<i64>> {
    PyArray1::from_iter(py, rows.positions.iter().map(|&i| i as i64))
}
