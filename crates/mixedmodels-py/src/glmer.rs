//! `#[pyclass]` over the core's fitted generalized linear mixed model.

use mixedmodels::glmer::{Glmer, GlmerOptions};
use mixedmodels::optim::OptimizerSettings;
use mixedmodels::residuals::ResidualKind;
use numpy::{PyArray1, PyArray2};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::convert::{array2, contrast_from_py, term_dicts};
use crate::errors::to_py;
use crate::frame::{with_frame, PyFrame};

#[pyclass(name = "GlmerFit", module = "mixedmodels._core")]
pub struct PyGlmer {
    pub(crate) inner: Glmer,
}

#[pymethods]
impl PyGlmer {
    #[staticmethod]
    #[pyo3(signature = (formula, frame, family, link=None, nagq=1, weights=None, contrasts=None, derivatives=true, max_feval=10000))]
    fn fit(
        py: Python<'_>,
        formula: &str,
        frame: PyFrame<'_>,
        family: &str,
        link: Option<String>,
        nagq: usize,
        weights: Option<String>,
        contrasts: Option<Vec<(String, Bound<'_, PyAny>)>>,
        derivatives: bool,
        max_feval: usize,
    ) -> PyResult<PyGlmer> {
        let contrasts = contrasts
            .unwrap_or_default()
            .iter()
            .map(|(n, c)| Ok((n.clone(), contrast_from_py(c)?)))
            .collect::<PyResult<Vec<_>>>()?;
        let optimizer = OptimizerSettings { max_feval, ..GlmerOptions::default().optimizer };
        let options =
            GlmerOptions { family: family.to_string(), link, nagq, contrasts, weights, optimizer, derivatives };
        with_frame(&frame, |df| {
            let inner = py.detach(|| Glmer::fit(formula, df, &options)).map_err(to_py)?;
            Ok(PyGlmer { inner })
        })
    }

    #[getter]
    fn fixed_names(&self) -> Vec<String> {
        self.inner.fixed_names.clone()
    }
    #[getter]
    fn assign(&self) -> Vec<usize> {
        self.inner.assign.clone()
    }
    #[getter]
    fn family(&self) -> String {
        format!("{:?}", self.inner.fit.family.dist)
    }
    /// Columns of X dropped as linearly dependent (rank deficiency).
    #[getter]
    fn dropped_columns(&self) -> Vec<String> {
        self.inner.spec.fixed_dropped.clone()
    }
    #[getter]
    fn link(&self) -> String {
        self.inner.fit.family.link.name().to_string()
    }
    #[getter]
    fn nagq(&self) -> usize {
        self.inner.fit.nagq
    }
    #[getter]
    fn beta<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        PyArray1::from_slice(py, &self.inner.fit.beta)
    }
    #[getter]
    fn vcov<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let p = self.inner.fit.beta.len();
        array2(py, &self.inner.fit.vcov_beta, p, p)
    }
    #[getter]
    fn vcov_from_hessian(&self) -> bool {
        self.inner.fit.vcov_from_hessian
    }
    #[getter]
    fn theta(&self) -> Vec<f64> {
        self.inner.fit.theta.clone()
    }
    #[getter]
    fn sigma(&self) -> f64 {
        self.inner.fit.sigma
    }
    #[getter]
    fn has_scale(&self) -> bool {
        self.inner.fit.family.has_scale()
    }
    #[getter]
    fn objective(&self) -> f64 {
        self.inner.fit.objective
    }
    #[getter]
    fn objective_lme4(&self) -> f64 {
        self.inner.fit.objective_lme4
    }
    #[getter]
    fn loglik(&self) -> f64 {
        self.inner.fit.loglik
    }
    #[getter]
    fn aic(&self) -> f64 {
        self.inner.fit.aic
    }
    #[getter]
    fn bic(&self) -> f64 {
        self.inner.fit.bic
    }
    #[getter]
    fn npar(&self) -> usize {
        self.inner.fit.npar
    }
    #[getter]
    fn deviance(&self) -> f64 {
        self.inner.fit.deviance
    }
    #[getter]
    fn nobs(&self) -> usize {
        self.inner.pirls.resp.n()
    }
    /// The position in the data of each row the fit used.
    #[getter]
    fn fit_rows<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<i64>> {
        crate::convert::positions(py, &self.inner.rows)
    }
    /// One flag a row of the data: did the fit use it?
    #[getter]
    fn fit_mask<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<bool>> {
        PyArray1::from_vec(py, self.inner.rows.mask())
    }
    #[getter]
    fn singular(&self) -> bool {
        self.inner.fit.singular
    }
    #[getter]
    fn warnings(&self) -> Vec<String> {
        self.inner.fit.warnings.clone()
    }
    #[getter]
    fn fitted<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        PyArray1::from_slice(py, &self.inner.fit.mu)
    }
    #[getter]
    fn linear_predictor<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        PyArray1::from_slice(py, &self.inner.fit.eta)
    }
    #[getter]
    fn response<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        PyArray1::from_slice(py, &self.inner.pirls.resp.y)
    }
    #[getter]
    fn design_matrix<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let p = &self.inner.pirls;
        array2(py, &p.x, p.resp.n(), p.p)
    }

    /// Residuals: "deviance", "pearson", "response" or "working".
    fn residuals<'py>(&self, py: Python<'py>, kind: &str) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let kind = ResidualKind::parse(kind).map_err(to_py)?;
        Ok(PyArray1::from_vec(py, self.inner.residuals(kind)))
    }
    /// Prior weights of the rows of the fit, as the family uses them (times
    /// the trials for `cbind()` responses, as R's `weights()`).
    #[getter]
    fn prior_weights<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        PyArray1::from_slice(py, &self.inner.pirls.resp.weights)
    }
    /// The formula's offsets on the rows of the fit (zeros without offsets).
    #[getter]
    fn offset<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        PyArray1::from_slice(py, &self.inner.pirls.resp.offset)
    }

    fn terms<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyDict>>> {
        let m = &self.inner;
        let scale = if m.fit.family.has_scale() { m.fit.sigma * m.fit.sigma } else { 1.0 };
        term_dicts(py, &m.pirls.modes.terms, &m.pirls.modes.par, &m.fit.theta, &m.fit.ranef, scale)
    }

    fn condvar<'py>(&self, py: Python<'py>) -> Vec<Bound<'py, PyArray1<f64>>> {
        let inner = &self.inner;
        let cv = py.detach(|| inner.conditional_variances());
        cv.into_iter().map(|v| PyArray1::from_vec(py, v)).collect()
    }

    fn sd_cor_names(&self) -> Vec<String> {
        mixedmodels::lmer::sd_cor_names(&self.inner.pirls.modes.terms)
    }

    fn term_info<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyDict>>> {
        let m = &self.inner;
        m.spec
            .fixed_terms()
            .into_iter()
            .enumerate()
            .map(|(i, (label, vars, numeric))| {
                let d = PyDict::new(py);
                d.set_item("label", label)?;
                d.set_item("variables", vars)?;
                d.set_item("numeric", numeric)?;
                let cols: Vec<usize> =
                    m.assign.iter().enumerate().filter(|(_, a)| **a == i + 1).map(|(j, _)| j).collect();
                d.set_item("columns", cols)?;
                Ok(d)
            })
            .collect()
    }

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
        Ok(d)
    }

    /// Fixed-effects matrix for new data.
    fn model_matrix<'py>(&self, py: Python<'py>, frame: PyFrame<'py>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let inner = &self.inner;
        let mm = with_frame(&frame, |df| py.detach(|| inner.spec.fixed_matrix(df)).map_err(to_py))?;
        array2(py, &mm.values, mm.nrows, mm.ncols())
    }

    /// Predictions for new data on the response (or link) scale.
    fn predict<'py>(
        &self,
        py: Python<'py>,
        frame: PyFrame<'py>,
        use_re: bool,
        response: bool,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let inner = &self.inner;
        let v = with_frame(&frame, |df| py.detach(|| inner.predict(df, use_re, response)).map_err(to_py))?;
        Ok(PyArray1::from_vec(py, v))
    }

    fn simulate<'py>(
        &self,
        py: Python<'py>,
        nsim: usize,
        use_re: bool,
        seed: u64,
    ) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let inner = &self.inner;
        let sims = py.detach(|| inner.simulate(nsim, use_re, seed));
        let n = inner.pirls.resp.n();
        let flat: Vec<f64> = sims.into_iter().flatten().collect();
        array2(py, &flat, n, nsim)
    }

    fn __repr__(&self) -> String {
        format!("<GlmerFit {} obs, {:?} family>", self.inner.pirls.resp.n(), self.inner.fit.family.dist)
    }
}
