//! `all_fit` for both mixed models: the optimizers asked for, the refits
//! run on the thread pool while this thread watches for Ctrl-C and the
//! progress callback, and the refits as Python dicts.

use mixedmodels::all_fit::{available_methods, AllFit, OptimizerFit};
use mixedmodels::optim::Method;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::convert::optimizer_method;
use crate::errors::data_error;
use crate::progress::run_watched;

/// `model` refitted with each optimizer named in `optimizers` (None: every
/// one available), in parallel, each record of its optimizer passed to
/// `progress` (see `progress::run_watched`).
pub fn all_fit_list<'py, M: AllFit>(
    py: Python<'py>,
    model: &M,
    optimizers: Option<Vec<String>>,
    max_feval: usize,
    progress: Option<Py<PyAny>>,
) -> PyResult<Bound<'py, PyList>> {
    let methods = all_fit_methods(optimizers, M::GENERALIZED)?;
    let fits = run_watched(py, progress, |watch| {
        Ok(model.all_fit_observed(&methods, max_feval, Some(&|method, p| watch.observe(Some(method.name()), p))))
    })?;
    optimizer_fits_list(py, &fits)
}

/// The optimizers `all_fit` runs: those named, or every one available for
/// the kind of model; a method a GLMM has no objective for is an error.
fn all_fit_methods(names: Option<Vec<String>>, generalized: bool) -> PyResult<Vec<Method>> {
    let available = available_methods(generalized);
    let Some(names) = names else { return Ok(available) };
    if names.is_empty() {
        return Err(data_error("optimizers must name at least one optimizer".into()));
    }
    let mut methods = Vec::new();
    for name in &names {
        let method = optimizer_method(name)?;
        if !available.contains(&method) {
            let known: Vec<&str> = available.iter().map(|m| m.name()).collect();
            return Err(data_error(format!(
                "optimizer '{name}' is not available for this model in all_fit (available: {})",
                known.join(", ")
            )));
        }
        if !methods.contains(&method) {
            methods.push(method);
        }
    }
    Ok(methods)
}

/// `all_fit`'s refits as a list of dicts, one an optimizer: `optimizer`,
/// `seconds`, `error` (None, or why the refit failed) and, for a refit that
/// ran, `objective`, `loglik`, `theta`, `sd_cor`, `sigma`, `beta`, `feval`,
/// `converged`, `status`, `warnings`.
fn optimizer_fits_list<'py>(py: Python<'py>, fits: &[OptimizerFit]) -> PyResult<Bound<'py, PyList>> {
    let out = PyList::empty(py);
    for f in fits {
        let d = PyDict::new(py);
        d.set_item("optimizer", f.method.name())?;
        d.set_item("seconds", f.seconds)?;
        match &f.outcome {
            Err(e) => d.set_item("error", e)?,
            Ok(r) => {
                d.set_item("error", py.None())?;
                d.set_item("objective", r.objective)?;
                d.set_item("loglik", r.loglik)?;
                d.set_item("theta", r.theta.clone())?;
                d.set_item("sd_cor", r.sd_cor.clone())?;
                d.set_item("sigma", r.sigma)?;
                d.set_item("beta", r.beta.clone())?;
                d.set_item("feval", r.feval)?;
                d.set_item("converged", r.converged)?;
                d.set_item("status", &r.status)?;
                d.set_item("warnings", r.warnings.clone())?;
            }
        }
        out.append(d)?;
    }
    Ok(out)
}
