//! Group deletion and group cross-validation of an out-of-core fit, from
//! the per-group pieces of its reduced statistics
//! (`mixedmodels::diagnostics::group_sums`): convert, release the GIL, call
//! the core, convert back.

use mixedmodels::diagnostics::{self, group_sums};
use numpy::PyArray1;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::convert::matrix_rowmajor;
use crate::errors::to_py;
use crate::lmer::PyLmer;

/// Each level of `factor` deleted in turn: cooksd, mdffits, covtrace,
/// covratio; with `exact`, refits adding `rvc` (levels x names), `rvc_names`
/// and `converged`.
#[pyfunction]
pub fn influence_groups_sums<'py>(
    py: Python<'py>,
    model: PyRef<'py, PyLmer>,
    factor: &str,
    exact: bool,
) -> PyResult<Bound<'py, PyDict>> {
    let m = &model.inner;
    let got = py.detach(|| group_sums::influence(m, factor, exact)).map_err(to_py)?;
    let d = PyDict::new(py);
    let column =
        |f: fn(&diagnostics::Measures) -> f64| PyArray1::from_vec(py, got.iter().map(|e| f(&e.measures)).collect());
    d.set_item("cooksd", column(|x| x.cooksd))?;
    d.set_item("mdffits", column(|x| x.mdffits))?;
    d.set_item("covtrace", column(|x| x.covtrace))?;
    d.set_item("covratio", column(|x| x.covratio))?;
    if exact {
        let names = diagnostics::rvc_names(m);
        let rvc: Vec<f64> = got.iter().flat_map(|e| e.rvc.iter().copied()).collect();
        d.set_item("rvc", matrix_rowmajor(py, rvc, got.len(), names.len())?)?;
        d.set_item("rvc_names", names)?;
        d.set_item("converged", got.iter().map(|e| e.converged).collect::<Vec<_>>())?;
    }
    Ok(d)
}

/// Refit without each fold (lists of level indices of `factor`) and sum the
/// held-out rows' prediction errors: n, sse, sum_y, sum_y2 (y less its pilot
/// mean) and converged, one entry a fold.
#[pyfunction]
pub fn cross_validate_groups_sums<'py>(
    py: Python<'py>,
    model: PyRef<'py, PyLmer>,
    factor: &str,
    folds: Vec<Vec<usize>>,
    reml: bool,
) -> PyResult<Bound<'py, PyDict>> {
    let m = &model.inner;
    let got = py.detach(|| group_sums::cross_validate(m, factor, &folds, reml)).map_err(to_py)?;
    let d = PyDict::new(py);
    let column = |f: fn(&group_sums::HeldOutFold) -> f64| PyArray1::from_vec(py, got.iter().map(f).collect());
    d.set_item("n", column(|f| f.held_out.n))?;
    d.set_item("sse", column(|f| f.held_out.sse))?;
    d.set_item("sum_y", column(|f| f.held_out.sum_y))?;
    d.set_item("sum_y2", column(|f| f.held_out.sum_y2))?;
    d.set_item("converged", got.iter().map(|f| f.converged).collect::<Vec<_>>())?;
    Ok(d)
}
