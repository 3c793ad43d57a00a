//! A fitted GLMM's estimates (and any optimizer record) as a Python dict and back (a saved model:
//! `mixedmodels.io` writes the dict as JSON, `GlmerFit.at_estimates` reads it).

use mixedmodels::glmm::negbin::ThetaSearch;
use mixedmodels::glmm::GlmmEstimates;
use mixedmodels::optim::OptSummary;
use pyo3::conversion::FromPyObjectOwned;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::errors::data_error;

pub fn estimates_to_dict<'py>(py: Python<'py>, e: &GlmmEstimates) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("theta", &e.theta)?;
    d.set_item("beta", &e.beta)?;
    d.set_item("u", &e.u)?;
    d.set_item("eta_weights", &e.eta_weights)?;
    d.set_item("vcov_beta", &e.vcov_beta)?;
    d.set_item("vcov_from_hessian", e.vcov_from_hessian)?;
    d.set_item("stage1", opt_summary_to_dict(py, &e.stage1)?)?;
    d.set_item("stage2", opt_summary_to_dict(py, &e.stage2)?)?;
    d.set_item("derivative_evaluations", e.derivative_evaluations)?;
    d.set_item("pirls_iterations", e.pirls_iterations)?;
    d.set_item("pirls_tol", e.pirls_tol)?;
    d.set_item("pirls_step_tol", e.pirls_step_tol)?;
    d.set_item("nb_theta", e.nb_theta)?;
    match &e.nb_search {
        Some(s) => {
            let search = PyDict::new(py);
            search.set_item("initial", s.initial)?;
            search.set_item("interval", vec![s.interval.0, s.interval.1])?;
            search.set_item("evaluations", s.evaluations)?;
            d.set_item("nb_search", search)?;
        }
        None => d.set_item("nb_search", py.None())?,
    }
    Ok(d)
}

pub fn estimates_from_dict(d: &Bound<'_, PyDict>) -> PyResult<GlmmEstimates> {
    let nb_search = match d.get_item("nb_search")? {
        Some(s) if !s.is_none() => {
            let s = s.cast_into::<PyDict>()?;
            let interval: Vec<f64> = item(&s, "interval")?;
            if interval.len() != 2 {
                return Err(data_error("the saved nb_search interval needs two values".to_string()));
            }
            Some(ThetaSearch {
                initial: item(&s, "initial")?,
                interval: (interval[0], interval[1]),
                evaluations: item(&s, "evaluations")?,
            })
        }
        _ => None,
    };
    Ok(GlmmEstimates {
        theta: item(d, "theta")?,
        beta: item(d, "beta")?,
        u: item(d, "u")?,
        eta_weights: item(d, "eta_weights")?,
        vcov_beta: item(d, "vcov_beta")?,
        vcov_from_hessian: item(d, "vcov_from_hessian")?,
        stage1: opt_summary_from_dict(&item(d, "stage1")?)?,
        stage2: opt_summary_from_dict(&item(d, "stage2")?)?,
        derivative_evaluations: item(d, "derivative_evaluations")?,
        pirls_iterations: item(d, "pirls_iterations")?,
        pirls_tol: item(d, "pirls_tol")?,
        pirls_step_tol: item(d, "pirls_step_tol")?,
        nb_theta: item(d, "nb_theta")?,
        nb_search,
    })
}

/// The optimizer's record as a dict (`final` is `final_theta`).
pub fn opt_summary_to_dict<'py>(py: Python<'py>, o: &OptSummary) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("optimizer", &o.optimizer)?;
    d.set_item("initial", &o.initial)?;
    d.set_item("final", &o.final_theta)?;
    d.set_item("fmin", o.fmin)?;
    d.set_item("feval", o.feval)?;
    d.set_item("geval", o.geval)?;
    d.set_item("status", &o.status)?;
    d.set_item("converged", o.converged)?;
    Ok(d)
}

fn opt_summary_from_dict(d: &Bound<'_, PyDict>) -> PyResult<OptSummary> {
    Ok(OptSummary {
        optimizer: item(d, "optimizer")?,
        initial: item(d, "initial")?,
        final_theta: item(d, "final")?,
        fmin: item(d, "fmin")?,
        feval: item(d, "feval")?,
        geval: item(d, "geval")?,
        status: item(d, "status")?,
        converged: item(d, "converged")?,
    })
}

/// `d[key]` as a T, or a DataError naming the key.
fn item<'py, T: FromPyObjectOwned<'py>>(d: &Bound<'py, PyDict>, key: &str) -> PyResult<T> {
    let value = d.get_item(key)?.ok_or_else(|| data_error(format!("the saved estimates have no '{key}'")))?;
    value.extract::<T>().map_err(|e| {
        let e: PyErr = e.into();
        data_error(format!("the saved estimates' '{key}' is not valid: {e}"))
    })
}
