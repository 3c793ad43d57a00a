//! `LmerFit`: the core's fitted linear mixed model, a `MixedFit` with what
//! only a linear model has (REML, Satterthwaite and Kenward-Roger inference,
//! profiles, the parametric bootstrap). Methods are thin: convert, call the
//! core with the GIL released, convert back.

use std::sync::Arc;

use mixedmodels::fit::FitOptions;
use mixedmodels::lmer::{Lmer, LmerOptions};
use mixedmodels::optim::{OptSummary, OptimizerSettings, Progress};
use mixedmodels::permutation::permutation_test;
use numpy::PyArray2;
use std::collections::HashMap;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::all_fit::all_fit_list;
use crate::convert::{
    contrasts_from_py, matrix, matrix_rowmajor, optimizer_method, optimizer_settings, replicates_dict, DdfArg,
};
use crate::errors::{data_error, to_py};
use crate::fitted::PyMixedFit;
use crate::frame::{with_frame, PyFrame};
use crate::progress::run_watched;
use crate::saved::opt_summary_to_dict;
use crate::sums::PyReducedStats;

#[pyclass(name = "LmerFit", module = "mixedmodels._core", extends = PyMixedFit, frozen)]
pub struct PyLmer {
    pub(crate) inner: Arc<Lmer>,
}

#[pymethods]
impl PyLmer {
    #[staticmethod]
    #[pyo3(signature = (formula, frame, reml=true, weights=None, contrasts=None, derivatives=true, max_feval=10000, optimizer=None, method="auto", progress=None))]
    #[allow(clippy::too_many_arguments)]
    fn fit(
        py: Python<'_>,
        formula: &str,
        frame: PyFrame<'_>,
        reml: bool,
        weights: Option<String>,
        contrasts: Option<Vec<(String, Bound<'_, PyAny>)>>,
        derivatives: bool,
        max_feval: usize,
        optimizer: Option<HashMap<String, f64>>,
        method: &str,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<Py<PyLmer>> {
        let contrasts = contrasts_from_py(contrasts)?;
        let method = optimizer_method(method)?;
        let optimizer = optimizer_settings(OptimizerSettings { max_feval, method, ..Default::default() }, optimizer)?;
        let options = LmerOptions { reml, contrasts, weights, fit: FitOptions { optimizer, start: None, derivatives } };
        let inner = with_frame(&frame, |df| {
            run_watched(py, progress, |watch| {
                let mut observer = |p: &Progress<'_>| watch.observe(None, p);
                Lmer::fit_observed(formula, df, &options, Some(&mut observer))
            })
        })?;
        let inner = Arc::new(inner);
        let base = PyMixedFit::new(inner.clone());
        Py::new(py, PyClassInitializer::from(base).add_subclass(PyLmer { inner }))
    }

    /// Fit from the reduced statistics of an out-of-core pass (the plan's
    /// weights and contrasts apply); the fit holds no rows.
    #[staticmethod]
    #[pyo3(signature = (stats, reml=true, derivatives=true, max_feval=10000, optimizer=None, method="auto", progress=None))]
    #[allow(clippy::too_many_arguments)]
    fn fit_sums(
        py: Python<'_>,
        stats: &PyReducedStats,
        reml: bool,
        derivatives: bool,
        max_feval: usize,
        optimizer: Option<HashMap<String, f64>>,
        method: &str,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<Py<PyLmer>> {
        let method = optimizer_method(method)?;
        let optimizer = optimizer_settings(OptimizerSettings { max_feval, method, ..Default::default() }, optimizer)?;
        let options = LmerOptions {
            reml,
            contrasts: vec![],
            weights: None,
            fit: FitOptions { optimizer, start: None, derivatives },
        };
        let (plan, reduced) = (stats.plan.clone(), stats.take()?);
        let inner = run_watched(py, progress, |watch| {
            let mut observer = |p: &Progress<'_>| watch.observe(None, p);
            Lmer::fit_sums_observed(&plan, reduced, &options, Some(&mut observer))
        })?;
        let inner = Arc::new(inner);
        let base = PyMixedFit::new(inner.clone());
        Py::new(py, PyClassInitializer::from(base).add_subclass(PyLmer { inner }))
    }

    /// The model at stored covariance parameters, without optimizing (a saved
    /// model loaded again); `opt` is the stored optimizer record
    /// (optimizer, initial, fmin, feval, geval, status, converged).
    #[staticmethod]
    #[pyo3(signature = (formula, frame, theta, opt, reml=true, weights=None, contrasts=None, derivatives=true))]
    #[allow(clippy::too_many_arguments)]
    fn at_theta(
        py: Python<'_>,
        formula: &str,
        frame: PyFrame<'_>,
        theta: Vec<f64>,
        opt: (String, Vec<f64>, f64, usize, usize, String, bool),
        reml: bool,
        weights: Option<String>,
        contrasts: Option<Vec<(String, Bound<'_, PyAny>)>>,
        derivatives: bool,
    ) -> PyResult<Py<PyLmer>> {
        let contrasts = contrasts_from_py(contrasts)?;
        let fit = FitOptions { optimizer: OptimizerSettings::default(), start: None, derivatives };
        let options = LmerOptions { reml, contrasts, weights, fit };
        let (optimizer, initial, fmin, feval, geval, status, converged) = opt;
        let record =
            OptSummary { optimizer, initial, final_theta: theta.clone(), fmin, feval, geval, status, converged };
        let inner = with_frame(&frame, |df| {
            py.detach(|| Lmer::at_theta(formula, df, &options, &theta, record)).map_err(to_py)
        })?;
        let inner = Arc::new(inner);
        let base = PyMixedFit::new(inner.clone());
        Py::new(py, PyClassInitializer::from(base).add_subclass(PyLmer { inner }))
    }

    /// X'X of the fixed effects, unweighted (p x p).
    #[getter]
    fn x_crossprod<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let p = self.inner.fit.p;
        matrix(py, self.inner.x_crossprod(), p, p)
    }

    /// Does the fit hold its rows? (False for an out-of-core fit.)
    #[getter]
    fn holds_rows(&self) -> bool {
        self.inner.holds_rows()
    }

    /// Permutation p-values of the fixed effects' t statistics: `n_perm`
    /// refits with the response shuffled within the grouping factors' cells.
    /// Returns (p-values, the refits' t statistics, n_perm x p).
    fn permutation_test<'py>(
        &self,
        py: Python<'py>,
        n_perm: usize,
        seed: u64,
    ) -> PyResult<(Vec<f64>, Bound<'py, PyArray2<f64>>)> {
        let inner = &self.inner;
        if !inner.holds_rows() {
            return Err(data_error(
                "a permutation test shuffles the response row by row: an out-of-core fit holds no rows".into(),
            ));
        }
        let test = py.detach(|| permutation_test(inner, n_perm, seed));
        let p = inner.fit.p;
        let flat: Vec<f64> = test.t.into_iter().flatten().collect();
        Ok((test.pvalues, matrix_rowmajor(py, flat, n_perm, p)?))
    }

    /// Satterthwaite's df of each fixed effect (None without derivatives).
    #[getter]
    fn df(&self) -> Option<Vec<f64>> {
        self.inner.fit.df.clone()
    }
    #[getter]
    fn reml(&self) -> bool {
        self.inner.fit.reml
    }

    /// The optimizer's record.
    fn optsummary<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = opt_summary_to_dict(py, &self.inner.fit.opt)?;
        d.set_item("derivative_evaluations", self.inner.fit.derivs.as_ref().map_or(0, |x| x.evaluations))?;
        Ok(d)
    }

    /// The profiled objective (REML criterion or deviance) at another theta;
    /// the fit is not changed.
    fn objective_at(&self, py: Python<'_>, theta: Vec<f64>) -> PyResult<f64> {
        let model = &self.inner.model;
        if theta.len() != model.par.ntheta() {
            return Err(data_error(format!("theta needs {} values", model.par.ntheta())));
        }
        Ok(py.detach(|| model.replicate().objective_at(&theta)))
    }

    /// Satterthwaite's df of each row of L.
    fn contrast_df(&self, rows: Vec<Vec<f64>>) -> PyResult<Vec<f64>> {
        self.inner.contrast_df(&rows).map_err(to_py)
    }

    /// The F test of L beta = rhs: (F, numerator df, denominator df, mean square).
    fn f_test(
        &self,
        py: Python<'_>,
        rows: Vec<Vec<f64>>,
        rhs: Vec<f64>,
        ddf: DdfArg,
    ) -> PyResult<(f64, usize, f64, f64)> {
        let inner = &self.inner;
        let t = py.detach(|| inner.f_test(&rows, &rhs, ddf.0)).map_err(to_py)?;
        Ok((t.f, t.num_df, t.den_df, t.mean_sq))
    }

    /// The t test of l' beta = rhs: (estimate, SE, df, t).
    fn t_test(&self, py: Python<'_>, l: Vec<f64>, rhs: f64, ddf: DdfArg) -> PyResult<(f64, f64, f64, f64)> {
        let inner = &self.inner;
        let t = py.detach(|| inner.t_test(&l, rhs, ddf.0)).map_err(to_py)?;
        Ok((t.estimate, t.se, t.df, t.t))
    }

    /// Kenward-Roger: (adjusted vcov (p x p), df of each coefficient).
    fn kenward_roger<'py>(&self, py: Python<'py>) -> PyResult<(Bound<'py, PyArray2<f64>>, Vec<f64>)> {
        let inner = &self.inner;
        let (phi_adj, df) = py
            .detach(|| inner.kenward_roger().map(|kr| (kr.phi_adj.clone(), kr.coefficient_df(&inner.fit.beta))))
            .map_err(to_py)?;
        let p = inner.fit.p;
        Ok((matrix(py, phi_adj, p, p)?, df))
    }

    /// Profile confidence intervals with their zeta traces: (lower, upper,
    /// [(x, zeta), ...]) for sd/cor..., sigma, then each fixed effect.
    #[allow(clippy::type_complexity)]
    fn profile(&self, py: Python<'_>, level: f64) -> PyResult<Vec<(f64, f64, Vec<(f64, f64)>)>> {
        let inner = &self.inner;
        let traces = py.detach(|| mixedmodels::inference::profile::profile_traces(inner, level)).map_err(to_py)?;
        Ok(traces.into_iter().map(|t| (t.lower, t.upper, t.points)).collect())
    }

    /// Parametric bootstrap replicates first..first+count: a dict of arrays,
    /// one row a replicate (theta, sd_cor, beta; sigma, objective, feval),
    /// NaN for refits that failed.
    fn bootstrap<'py>(&self, py: Python<'py>, first: u64, count: usize, seed: u64) -> PyResult<Bound<'py, PyDict>> {
        let inner = &self.inner;
        let reps = py.detach(|| inner.parametric_bootstrap(first, count, seed)).map_err(to_py)?;
        replicates_dict(py, &reps, inner.model.par.ntheta(), inner.fit.p)
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
        format!("<LmerFit {} obs, {} fixed effects>", self.inner.fit.n, self.inner.fit.p)
    }
}
