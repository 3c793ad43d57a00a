//! Conversions between Python objects and the core's types: arrays out
//! (handed to numpy without a copy), contrast specifications in, the names of
//! enums parsed at the boundary, and the dicts of random-effects terms.

use mixedmodels::data::FitRows;
use mixedmodels::design::{Contrasts, ReForm};
use mixedmodels::fitted::MixedFit;
use mixedmodels::glmm::Link;
use mixedmodels::inference::DdfMethod;
use mixedmodels::resample::Replicate;
use mixedmodels::residuals::ResidualKind;
use numpy::npyffi::NPY_ORDER;
use numpy::{PyArray1, PyArray2, PyArrayMethods};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::errors::{data_error, to_py};
use mixedmodels::optim::{Method, OptimizerSettings};
use std::collections::HashMap;

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

/// lme4's `re.form` from Python: True (all random effects), False (none), or
/// a string (`"~0"`, `"NA"`, a formula of random-effect terms).
pub struct ReFormArg(pub ReForm);

impl<'a, 'py> FromPyObject<'a, 'py> for ReFormArg {
    type Error = PyErr;

    fn extract(ob: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        if let Ok(flag) = ob.extract::<bool>() {
            return Ok(ReFormArg(ReForm::from_flag(flag)));
        }
        let text: String = ob.extract()?;
        Ok(ReFormArg(ReForm::parse(&text)))
    }
}

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

/// The core's optimizer method by its name (`"auto"`, `"bfgs"`, `"bobyqa"`).
pub fn optimizer_method(name: &str) -> PyResult<Method> {
    Method::parse(name).ok_or_else(|| {
        data_error(format!("unknown optimizer '{name}' (known: 'auto', 'bfgs', 'bobyqa', 'nelder_mead')"))
    })
}

/// Optimizer settings from Python: `base` with the entries of `overrides`
/// (`max_feval`, `rho_begin`, `rho_end`, `ftol_abs`, `ftol_rel`) applied.
pub fn optimizer_settings(
    base: OptimizerSettings,
    overrides: Option<HashMap<String, f64>>,
) -> PyResult<OptimizerSettings> {
    let mut s = base;
    for (key, value) in overrides.unwrap_or_default() {
        match key.as_str() {
            "max_feval" if value >= 1.0 && value.fract() == 0.0 => s.max_feval = value as usize,
            "rho_begin" if value > 0.0 => s.rho_begin = value,
            "rho_end" if value > 0.0 => s.rho_end = value,
            "ftol_abs" if value >= 0.0 => s.ftol_abs = Some(value),
            "ftol_rel" if value >= 0.0 => s.ftol_rel = Some(value),
            "max_feval" | "rho_begin" | "rho_end" | "ftol_abs" | "ftol_rel" => {
                return Err(data_error(format!("optimizer setting {key} = {value} is out of range")))
            }
            _ => return Err(data_error(format!("unknown optimizer setting '{key}'"))),
        }
    }
    if s.rho_end > s.rho_begin {
        return Err(data_error(format!(
            "the optimizer's final trust region ({}) must not exceed its first ({})",
            s.rho_end, s.rho_begin
        )));
    }
    Ok(s)
}

/// Bootstrap replicates as a dict of arrays, one row a replicate (theta,
/// sd_cor, beta; sigma, objective, feval), NaN for refits that failed.
pub fn replicates_dict<'py>(
    py: Python<'py>,
    reps: &[Option<Replicate>],
    k: usize,
    p: usize,
) -> PyResult<Bound<'py, PyDict>> {
    let count = reps.len();
    let d = PyDict::new(py);
    d.set_item("theta", matrix(py, replicate_columns(reps, k, |r| r.theta.clone()), count, k)?)?;
    d.set_item("sd_cor", matrix(py, replicate_columns(reps, k, |r| r.sd_cor.clone()), count, k)?)?;
    d.set_item("beta", matrix(py, replicate_columns(reps, p, |r| r.beta.clone()), count, p)?)?;
    d.set_item("sigma", vector(py, replicate_columns(reps, 1, |r| vec![r.sigma])))?;
    d.set_item("objective", vector(py, replicate_columns(reps, 1, |r| vec![r.objective])))?;
    d.set_item("feval", vector(py, replicate_columns(reps, 1, |r| vec![r.feval as f64])))?;
    Ok(d)
}

/// `width` values of each replicate as the columns of a (replicates x width)
/// column-major matrix; NaN where the refit failed.
fn replicate_columns(reps: &[Option<Replicate>], width: usize, get: impl Fn(&Replicate) -> Vec<f64>) -> Vec<f64> {
    let count = reps.len();
    let mut out = vec![f64::NAN; count * width];
    for (i, r) in reps.iter().enumerate() {
        if let Some(r) = r {
            for (j, v) in get(r).into_iter().enumerate() {
                out[j * count + i] = v;
            }
        }
    }
    out
}
