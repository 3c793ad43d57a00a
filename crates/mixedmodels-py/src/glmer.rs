//! `GlmerFit`: the core's fitted generalized linear mixed model, a `MixedFit`
//! with its family, link and glmer's own scales of the deviance.

use std::sync::Arc;

use mixedmodels::glmer::{Glmer, GlmerOptions};
use mixedmodels::glmm::bootstrap::parametric_bootstrap;
use mixedmodels::glmm::Family;
use mixedmodels::inference::profile_glmm::glmm_profile_intervals;
use mixedmodels::optim::{OptimizerSettings, Progress};
use mixedmodels::permutation::glmm_permutation_test;
use numpy::{PyArray1, PyArray2};
use std::collections::HashMap;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::all_fit::all_fit_list;
use crate::convert::replicates_dict;
use crate::convert::{contrasts_from_py, matrix_rowmajor, optimizer_settings};
use crate::errors::to_py;
use crate::fitted::PyMixedFit;
use crate::frame::{with_frame, PyFrame};
use crate::progress::run_watched;
use crate::saved::{estimates_from_dict, estimates_to_dict};

#[pyclass(name = "GlmerFit", module = "mixedmodels._core", extends = PyMixedFit, frozen)]
pub struct PyGlmer {
    pub(crate) inner: Arc<Glmer>,
}

#[pymethods]
impl PyGlmer {
    /// `family` and `link` by R's names, parsed here; `nb_theta` fixes a
    /// negative binomial's theta (None: estimated, as glmer.nb).
    #[staticmethod]
    #[pyo3(signature = (formula, frame, family, link=None, nagq=1, weights=None, contrasts=None, derivatives=true, max_feval=10000, optimizer=None, nb_theta=None, tol_pwrss=1e-7, progress=None))]
    #[allow(clippy::too_many_arguments)]
    fn fit(
        py: Python<'_>,
        formula: &str,
        frame: PyFrame<'_>,
        family: &str,
        link: Option<&str>,
        nagq: usize,
        weights: Option<String>,
        contrasts: Option<Vec<(String, Bound<'_, PyAny>)>>,
        derivatives: bool,
        max_feval: usize,
        optimizer: Option<HashMap<String, f64>>,
        nb_theta: Option<f64>,
        tol_pwrss: f64,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<Py<PyGlmer>> {
        let options = glmer_options(
            family,
            link,
            nagq,
            weights,
            contrasts,
            derivatives,
            max_feval,
            optimizer,
            nb_theta,
            tol_pwrss,
        )?;
        let inner = with_frame(&frame, |df| {
            run_watched(py, progress, |watch| {
                let mut observer = |p: &Progress<'_>| watch.observe(None, p);
                Glmer::fit_observed(formula, df, &options, Some(&mut observer))
            })
        })?;
        let inner = Arc::new(inner);
        let base = PyMixedFit::new(inner.clone());
        Py::new(py, PyClassInitializer::from(base).add_subclass(PyGlmer { inner }))
    }

    /// The model at saved estimates (`estimates()` of its fit), without
    /// optimizing: a saved model loaded again. The other arguments are the
    /// fit's (`nb_theta` the one given to it, None when it was estimated).
    #[staticmethod]
    #[pyo3(signature = (formula, frame, family, estimates, link=None, nagq=1, weights=None, contrasts=None, derivatives=true, max_feval=10000, optimizer=None, nb_theta=None, tol_pwrss=1e-7))]
    #[allow(clippy::too_many_arguments)]
    fn at_estimates(
        py: Python<'_>,
        formula: &str,
        frame: PyFrame<'_>,
        family: &str,
        estimates: &Bound<'_, PyDict>,
        link: Option<&str>,
        nagq: usize,
        weights: Option<String>,
        contrasts: Option<Vec<(String, Bound<'_, PyAny>)>>,
        derivatives: bool,
        max_feval: usize,
        optimizer: Option<HashMap<String, f64>>,
        nb_theta: Option<f64>,
        tol_pwrss: f64,
    ) -> PyResult<Py<PyGlmer>> {
        let options = glmer_options(
            family,
            link,
            nagq,
            weights,
            contrasts,
            derivatives,
            max_feval,
            optimizer,
            nb_theta,
            tol_pwrss,
        )?;
        let saved = estimates_from_dict(estimates)?;
        let inner =
            with_frame(&frame, |df| py.detach(|| Glmer::at_estimates(formula, df, &options, &saved)).map_err(to_py))?;
        let inner = Arc::new(inner);
        let base = PyMixedFit::new(inner.clone());
        Py::new(py, PyClassInitializer::from(base).add_subclass(PyGlmer { inner }))
    }

    /// What `at_estimates` rebuilds this fit from: plain numbers, lists and
    /// dicts (see `mixedmodels::glmm::saved`).
    fn estimates<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        estimates_to_dict(py, &self.inner.estimates())
    }

    /// Permutation p-values of the fixed effects' z statistics: `n_perm`
    /// refits with the response shuffled within the grouping factors' cells.
    /// Returns (p-values, the refits' z statistics, n_perm x p).
    fn permutation_test<'py>(
        &self,
        py: Python<'py>,
        n_perm: usize,
        seed: u64,
    ) -> PyResult<(Vec<f64>, Bound<'py, PyArray2<f64>>)> {
        let inner = &self.inner;
        let test = py.detach(|| glmm_permutation_test(inner, n_perm, seed));
        let p = inner.fit.beta.len();
        let flat: Vec<f64> = test.t.into_iter().flatten().collect();
        Ok((test.pvalues, matrix_rowmajor(py, flat, n_perm, p)?))
    }

    /// R's name of the family ("binomial", "poisson", "Gamma",
    /// "inverse.gaussian", "negative.binomial").
    #[getter]
    fn family(&self) -> &'static str {
        self.inner.fit.family.dist.name()
    }
    /// R's `family(m)$family`: "binomial", ..., "Negative Binomial(3.3034)".
    #[getter]
    fn family_name(&self) -> String {
        self.inner.fit.family.r_name()
    }
    /// The negative binomial's theta (estimated or given); None for other families.
    #[getter]
    fn nb_theta(&self) -> Option<f64> {
        self.inner.fit.family.nb_theta()
    }
    /// 0 (PIRLS only), 1 (Laplace) or the number of quadrature nodes.
    #[getter]
    fn nagq(&self) -> usize {
        self.inner.fit.nagq
    }
    /// R's name of the link.
    #[getter]
    fn link(&self) -> &'static str {
        self.inner.fit.family.link.name()
    }
    /// For nAGQ > 1: the quadrature deviance on lme4's scale (deviance residuals).
    #[getter]
    fn objective_lme4(&self) -> f64 {
        self.inner.fit.objective_lme4
    }
    /// Sum of squared deviance residuals (lme4's `deviance()` for GLMMs).
    #[getter]
    fn deviance(&self) -> f64 {
        self.inner.fit.deviance
    }
    #[getter]
    fn linear_predictor<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        PyArray1::from_slice(py, &self.inner.fit.eta)
    }

    /// The optimizers' record, both stages.
    fn optsummary<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let f = &self.inner.fit;
        let d = PyDict::new(py);
        d.set_item("optimizer", "bobyqa")?;
        d.set_item("feval", f.stage1.feval + f.stage2.feval)?;
        d.set_item("feval_stage1", f.stage1.feval)?;
        d.set_item("feval_stage2", f.stage2.feval)?;
        d.set_item("converged", f.stage1.converged && f.stage2.converged)?;
        d.set_item("status", &f.stage2.status)?;
        d.set_item("derivative_evaluations", f.derivative_evaluations)?;
        d.set_item("pirls_iterations", f.pirls_iterations)?;
        if let Some(search) = &self.inner.nb_search {
            d.set_item("nb_theta_start", search.initial)?;
            d.set_item("nb_theta_interval", search.interval)?;
            d.set_item("nb_theta_evaluations", search.evaluations)?;
        }
        Ok(d)
    }

    /// Profile confidence intervals: (lower, upper) for sd/cor..., then each fixed effect.
    fn profile(&self, py: Python<'_>, level: f64) -> PyResult<Vec<(f64, f64)>> {
        let inner = &self.inner;
        py.detach(|| glmm_profile_intervals(inner, level)).map_err(to_py)
    }

    /// Parametric bootstrap replicates first..first+count: a dict of arrays,
    /// one row a replicate (theta, sd_cor, beta; sigma, objective, feval),
    /// NaN for refits that failed.
    fn bootstrap<'py>(&self, py: Python<'py>, first: u64, count: usize, seed: u64) -> PyResult<Bound<'py, PyDict>> {
        let inner = &self.inner;
        let reps = py.detach(|| parametric_bootstrap(inner, first, count, seed));
        replicates_dict(py, &reps, inner.fit.theta.len(), inner.fit.beta.len())
    }

    /// The model refitted with each optimizer (None: every one available),
    /// in parallel: a list of dicts (see `all_fit::optimizer_fits_list`).
    #[pyo3(signature = (optimizers, max_feval, progress=None))]
    fn all_fit<'py>(
        &self,
        py: Python<'py>,
        optimizers: Option<Vec<String>>,
        max_feval: usize,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<Bound<'py, PyList>> {
        all_fit_list(py, self.inner.as_ref(), optimizers, max_feval, progress)
    }

    fn __repr__(&self) -> String {
        let family = self.inner.fit.family;
        format!("<GlmerFit {} obs, {} family ({} link)>", self.inner.rows.len(), family.dist.name(), family.link.name())
    }
}

/// The core's options from `fit`'s arguments (`family` and `link` by R's names).
#[allow(clippy::too_many_arguments)]
fn glmer_options(
    family: &str,
    link: Option<&str>,
    nagq: usize,
    weights: Option<String>,
    contrasts: Option<Vec<(String, Bound<'_, PyAny>)>>,
    derivatives: bool,
    max_feval: usize,
    optimizer: Option<HashMap<String, f64>>,
    nb_theta: Option<f64>,
    tol_pwrss: f64,
) -> PyResult<GlmerOptions> {
    let mut family = Family::parse(family, link).map_err(to_py)?;
    if let Some(theta) = nb_theta {
        family = family.with_nb_theta(theta).map_err(to_py)?;
    }
    let contrasts = contrasts_from_py(contrasts)?;
    let base = OptimizerSettings { max_feval, ..GlmerOptions::default().optimizer };
    let optimizer = optimizer_settings(base, optimizer)?;
    Ok(GlmerOptions { family, nagq, contrasts, weights, optimizer, derivatives, tol_pwrss })
}
