//! `GlmerFit`: the core's fitted generalized linear mixed model, a `MixedFit`
//! with its family, link and glmer's own scales of the deviance.

use std::sync::Arc;

use mixedmodels::glmer::{Glmer, GlmerOptions};
use mixedmodels::glmm::Family;
use mixedmodels::optim::OptimizerSettings;
use numpy::PyArray1;
use std::collections::HashMap;

use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::convert::{contrasts_from_py, optimizer_settings};
use crate::errors::to_py;
use crate::fitted::PyMixedFit;
use crate::frame::{with_frame, PyFrame};

#[pyclass(name = "GlmerFit", module = "mixedmodels._core", extends = PyMixedFit, frozen)]
pub struct PyGlmer {
    pub(crate) inner: Arc<Glmer>,
}

#[pymethods]
impl PyGlmer {
    /// `family` and `link` by R's names, parsed here.
    #[staticmethod]
    #[pyo3(signature = (formula, frame, family, link=None, nagq=1, weights=None, contrasts=None, derivatives=true, max_feval=10000, optimizer=None))]
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
    ) -> PyResult<Py<PyGlmer>> {
        let family = Family::parse(family, link).map_err(to_py)?;
        let contrasts = contrasts_from_py(contrasts)?;
        let base = OptimizerSettings { max_feval, ..GlmerOptions::default().optimizer };
        let optimizer = optimizer_settings(base, optimizer)?;
        let options = GlmerOptions { family, nagq, contrasts, weights, optimizer, derivatives };
        let inner = with_frame(&frame, |df| py.detach(|| Glmer::fit(formula, df, &options)).map_err(to_py))?;
        let inner = Arc::new(inner);
        let base = PyMixedFit::new(inner.clone());
        Py::new(py, PyClassInitializer::from(base).add_subclass(PyGlmer { inner }))
    }

    /// R's name of the family ("binomial", "poisson", "Gamma", "inverse.gaussian").
    #[getter]
    fn family(&self) -> &'static str {
        self.inner.fit.family.dist.name()
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
        Ok(d)
    }

    fn __repr__(&self) -> String {
        let family = self.inner.fit.family;
        format!("<GlmerFit {} obs, {} family ({} link)>", self.inner.rows.len(), family.dist.name(), family.link.name())
    }
}
