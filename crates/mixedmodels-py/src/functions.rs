//! The module-level functions of `mixedmodels._core`: formulas read as lme4
//! reads them, R's model matrices, the links of generalized models and the
//! rank check of a design, for the Python side's tables.

use numpy::{PyArray1, PyArray2, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::convert::{contrasts_from_py, matrix, LinkArg};
use crate::errors::to_py;
use crate::frame::{with_frame, PyFrame};

/// A formula's structure, as lme4 sees it: the response, the fixed part
/// (intercept, term labels in R's order, offsets) and the random-effects bars
/// after `||` and `/` expansion in lme4's `findbars` order, each with the
/// text of its left-hand side and grouping factor.
#[pyfunction]
pub fn formula_structure<'py>(py: Python<'py>, formula: &str) -> PyResult<Bound<'py, PyDict>> {
    let f = mixedmodels::formula::ModelFormula::parse(formula).map_err(to_py)?;
    let label = |t: &mixedmodels::formula::Term| t.0.iter().map(|v| f.variable_name(*v)).collect::<Vec<_>>().join(":");
    let d = PyDict::new(py);
    d.set_item("response", f.response.as_ref().map(|r| r.deparse()))?;
    d.set_item("intercept", f.fixed.intercept)?;
    d.set_item("terms", f.fixed.terms.iter().map(label).collect::<Vec<_>>())?;
    let term_vars: Vec<Vec<String>> =
        f.fixed.terms.iter().map(|t| t.0.iter().map(|v| f.variable_name(*v).to_string()).collect()).collect();
    d.set_item("term_variables", term_vars)?;
    d.set_item("offsets", f.offsets.iter().map(|o| o.deparse()).collect::<Vec<_>>())?;
    let bars = f
        .bars
        .iter()
        .map(|b| {
            let bd = PyDict::new(py);
            bd.set_item("lhs", &b.lhs_text)?;
            bd.set_item("group", &b.group_name)?;
            bd.set_item("intercept", b.lhs.intercept)?;
            bd.set_item("terms", b.lhs.terms.iter().map(label).collect::<Vec<_>>())?;
            Ok(bd)
        })
        .collect::<PyResult<Vec<_>>>()?;
    d.set_item("bars", bars)?;
    Ok(d)
}

/// R's `model.matrix` of a formula's fixed part for the given columns, all
/// columns kept: (matrix, names, assign).
#[pyfunction]
#[pyo3(signature = (formula, frame, contrasts=None))]
#[allow(clippy::type_complexity)]
pub fn model_matrix<'py>(
    py: Python<'py>,
    formula: &str,
    frame: PyFrame<'py>,
    contrasts: Option<Vec<(String, Bound<'py, PyAny>)>>,
) -> PyResult<(Bound<'py, PyArray2<f64>>, Vec<String>, Vec<usize>)> {
    let contrasts = contrasts_from_py(contrasts)?;
    let f = mixedmodels::formula::ModelFormula::parse(formula).map_err(to_py)?;
    let mm =
        with_frame(&frame, |df| mixedmodels::design::DesignSpec::model_matrix_full(f, df, &contrasts).map_err(to_py))?;
    let (nrows, ncols) = (mm.nrows, mm.ncols());
    Ok((matrix(py, mm.values, nrows, ncols)?, mm.names, mm.assign))
}

/// The data columns a formula reads, for the Python side to convert: all of
/// them, or (for prediction) without the response and optionally without the
/// grouping factors. `data_columns`: the data's column names, so that a
/// column named like an R constant (`F`, `T`, `pi`) is read, as in R.
#[pyfunction]
#[pyo3(signature = (formula, response=true, groups=true, data_columns=None))]
pub fn formula_columns(
    formula: &str,
    response: bool,
    groups: bool,
    data_columns: Option<Vec<String>>,
) -> PyResult<Vec<String>> {
    let f = mixedmodels::formula::ModelFormula::parse(formula).map_err(to_py)?;
    Ok(f.columns_read(response, groups, &data_columns.unwrap_or_default()))
}

/// The inverse link at each eta (R's `make.link(link)$linkinv`, with its guards).
#[pyfunction]
pub fn link_inverse<'py>(py: Python<'py>, link: LinkArg, eta: PyReadonlyArray1<'py, f64>) -> Bound<'py, PyArray1<f64>> {
    PyArray1::from_iter(py, eta.as_array().iter().map(|e| link.0.inverse(*e)))
}

/// d mu / d eta at each eta (R's `make.link(link)$mu.eta`).
#[pyfunction]
pub fn link_mu_eta<'py>(py: Python<'py>, link: LinkArg, eta: PyReadonlyArray1<'py, f64>) -> Bound<'py, PyArray1<f64>> {
    PyArray1::from_iter(py, eta.as_array().iter().map(|e| link.0.mu_eta(*e)))
}

/// The columns of `x` (n x p) kept by R's rank check (`qr(x, tol)`, LINPACK's
/// dqrdc2 as lme4's `chkRank.drop.cols`): each column, in order, whose part
/// orthogonal to the kept ones is not negligible.
#[pyfunction]
#[pyo3(signature = (x, tol=1e-7))]
pub fn independent_columns(py: Python<'_>, x: PyReadonlyArray2<'_, f64>, tol: f64) -> Vec<usize> {
    let (n, p) = x.as_array().dim();
    // a Fortran-order array is read in place; another is copied to column-major order
    let transposed = x.as_array().reversed_axes();
    let column_major = match transposed.as_slice() {
        Some(values) => std::borrow::Cow::Borrowed(values),
        None => std::borrow::Cow::Owned(transposed.iter().copied().collect()),
    };
    py.detach(|| mixedmodels::linalg::independent_columns(&column_major, n, p, tol))
}
