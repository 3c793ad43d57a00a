//! `#[pyclass]` over the core's fitted linear mixed model. Methods are thin:
//! convert, call the core with the GIL released, convert back.

use mixedmodels::fit::FitOptions;
use mixedmodels::inference::satterthwaite;
use mixedmodels::lmer::{Lmer, LmerOptions};
use mixedmodels::optim::OptimizerSettings;
use mixedmodels::residuals::ResidualKind;
use numpy::{PyArray1, PyArray2};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::convert::{array2, contrast_from_py, term_dicts};
use crate::errors::to_py;
use crate::frame::{with_frame, PyFrame};

#[pyclass(name = "LmerFit", module = "mixedmodels._core")]
pub struct PyLmer {
    pub(crate) inner: Lmer,
}

#[pymethods]
impl PyLmer {
    #[staticmethod]
    #[pyo3(signature = (formula, frame, reml=true, weights=None, contrasts=None, derivatives=true, max_feval=10000))]
    fn fit(
        py: Python<'_>,
        formula: &str,
        frame: PyFrame<'_>,
        reml: bool,
        weights: Option<String>,
        contrasts: Option<Vec<(String, Bound<'_, PyAny>)>>,
        derivatives: bool,
        max_feval: usize,
    ) -> PyResult<PyLmer> {
        let contrasts = contrasts
            .unwrap_or_default()
            .iter()
            .map(|(n, c)| Ok((n.clone(), contrast_from_py(c)?)))
            .collect::<PyResult<Vec<_>>>()?;
        let optimizer = OptimizerSettings { max_feval, ..Default::default() };
        let options = LmerOptions { reml, contrasts, weights, fit: FitOptions { optimizer, start: None, derivatives } };
        with_frame(&frame, |df| {
            let inner = py.detach(|| Lmer::fit(formula, df, &options)).map_err(to_py)?;
            Ok(PyLmer { inner })
        })
    }

    /// Refit with REML (True) or ML (False).
    fn refit(&mut self, py: Python<'_>, reml: bool) -> PyResult<()> {
        let inner = &mut self.inner;
        py.detach(|| inner.refit_with(reml)).map_err(to_py)
    }

    #[getter]
    fn fixed_names(&self) -> Vec<String> {
        self.inner.fixed_names.clone()
    }
    #[getter]
    fn dropped_columns(&self) -> Vec<String> {
        self.inner.spec.fixed_dropped.clone()
    }
    #[getter]
    fn assign(&self) -> Vec<usize> {
        self.inner.assign.clone()
    }
    #[getter]
    fn term_labels(&self) -> Vec<String> {
        let f = &self.inner.spec.formula;
        f.fixed.terms.iter().map(|t| t.0.iter().map(|v| f.variable_name(*v)).collect::<Vec<_>>().join(":")).collect()
    }
    #[getter]
    fn beta<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        PyArray1::from_slice(py, &self.inner.fit.beta)
    }
    #[getter]
    fn vcov<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let p = self.inner.fit.p;
        array2(py, &self.inner.fit.vcov_beta, p, p)
    }
    #[getter]
    fn df(&self) -> Option<Vec<f64>> {
        self.inner.fit.df.clone()
    }
    #[getter]
    fn theta(&self) -> Vec<f64> {
        self.inner.fit.theta.clone()
    }
    #[getter]
    fn sigma(&self) -> f64 {
        self.inner.fit.sigma
    }
    /// A linear model estimates its residual scale.
    #[getter]
    #[allow(clippy::unused_self)]
    fn has_scale(&self) -> bool {
        true
    }
    #[getter]
    fn reml(&self) -> bool {
        self.inner.fit.reml
    }
    #[getter]
    fn objective(&self) -> f64 {
        self.inner.fit.objective
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
    fn nobs(&self) -> usize {
        self.inner.fit.n
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
        PyArray1::from_slice(py, &self.inner.fit.fitted)
    }
    /// Residuals: "response", "pearson", "deviance" or "working".
    fn residuals<'py>(&self, py: Python<'py>, kind: &str) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let kind = ResidualKind::parse(kind).map_err(to_py)?;
        Ok(PyArray1::from_vec(py, self.inner.residuals(kind)))
    }
    #[getter]
    fn response<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        PyArray1::from_vec(py, self.inner.response())
    }
    /// Prior weights of the rows of the fit (ones when unweighted).
    #[getter]
    fn prior_weights<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        PyArray1::from_vec(py, self.inner.prior_weights())
    }
    /// The formula's offsets on the rows of the fit (zeros without offsets).
    #[getter]
    fn offset<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        let n = self.inner.fit.n;
        PyArray1::from_vec(py, self.inner.offset.clone().unwrap_or_else(|| vec![0.0; n]))
    }
    #[getter]
    fn design_matrix<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let m = &self.inner.model;
        array2(py, &m.x, m.n(), m.p())
    }

    /// One dict a random-effects term: group, cnames, levels, theta offset,
    /// conditional modes (levels x q), covariance (sigma^2 lambda lambda').
    fn terms<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyDict>>> {
        let m = &self.inner;
        term_dicts(py, m.terms(), &m.model.par, &m.fit.theta, &m.fit.ranef, m.fit.sigma * m.fit.sigma)
    }

    /// Conditional variances: one (levels, q, q) array a term.
    fn condvar<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyArray1<f64>>>> {
        let inner = &self.inner;
        let cv = py.detach(|| inner.conditional_variances());
        Ok(cv.into_iter().map(|v| PyArray1::from_vec(py, v)).collect())
    }

    /// Each fixed term: {label, variables, numeric (per variable), columns (indices into beta)}.
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

    /// The random-effects bars after `||` and `/` expansion: {intercept, terms, group}.
    fn bars<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyDict>>> {
        let f = &self.inner.spec.formula;
        f.bars
            .iter()
            .map(|b| {
                let d = PyDict::new(py);
                d.set_item("intercept", b.lhs.intercept)?;
                let terms: Vec<String> = b
                    .lhs
                    .terms
                    .iter()
                    .map(|t| t.0.iter().map(|v| f.variable_name(*v)).collect::<Vec<_>>().join(":"))
                    .collect();
                d.set_item("terms", terms)?;
                d.set_item("group", &b.group_name)?;
                Ok(d)
            })
            .collect()
    }

    /// The fixed-effects matrix for new data (the fitted model's coding).
    fn model_matrix<'py>(&self, py: Python<'py>, frame: PyFrame<'py>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let inner = &self.inner;
        let mm = with_frame(&frame, |df| py.detach(|| inner.spec.fixed_matrix(df)).map_err(to_py))?;
        array2(py, &mm.values, mm.nrows, mm.ncols())
    }

    /// The optimizer's record.
    fn optsummary<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let o = &self.inner.fit.opt;
        let d = PyDict::new(py);
        d.set_item("optimizer", &o.optimizer)?;
        d.set_item("initial", &o.initial)?;
        d.set_item("final", &o.final_theta)?;
        d.set_item("fmin", o.fmin)?;
        d.set_item("feval", o.feval)?;
        d.set_item("status", &o.status)?;
        d.set_item("converged", o.converged)?;
        d.set_item("derivative_evaluations", self.inner.fit.derivs.as_ref().map_or(0, |x| x.evaluations))?;
        Ok(d)
    }

    /// The profiled objective (REML criterion or deviance) at theta.
    fn objective_at(&mut self, theta: Vec<f64>) -> PyResult<f64> {
        let m = &mut self.inner.model;
        if theta.len() != m.par.ntheta() {
            return Err(crate::errors::DataError::new_err(format!("theta needs {} values", m.par.ntheta())));
        }
        let v = m.objective_at(&theta);
        let t = self.inner.fit.theta.clone();
        self.inner.model.set_theta(&t);
        Ok(v)
    }

    /// Satterthwaite df of the contrast l'beta.
    fn contrast_df(&self, l: Vec<f64>) -> PyResult<f64> {
        let f = &self.inner.fit;
        let (Some(d), Some(a)) = (&f.derivs, &f.vcov_varpar) else {
            return Err(crate::errors::DataError::new_err("the model was fitted without derivatives"));
        };
        Ok(satterthwaite::contrast_df(&l, &f.vcov_beta, d, a))
    }

    /// F test of L beta = 0: (F, numerator df, Satterthwaite denominator df).
    fn contrast_f(&self, rows: Vec<Vec<f64>>) -> PyResult<(f64, usize, f64)> {
        let f = &self.inner.fit;
        let (Some(d), Some(a)) = (&f.derivs, &f.vcov_varpar) else {
            return Err(crate::errors::DataError::new_err("the model was fitted without derivatives"));
        };
        Ok(satterthwaite::contrast_f(&rows, &f.beta, &f.vcov_beta, d, a))
    }

    /// Kenward-Roger: (adjusted vcov (p x p), df of each coefficient).
    fn kenward_roger<'py>(&self, py: Python<'py>) -> PyResult<(Bound<'py, PyArray2<f64>>, Vec<f64>)> {
        let inner = &self.inner;
        let kr = py.detach(|| inner.kenward_roger()).map_err(to_py)?;
        let p = kr.p;
        let df = (0..p)
            .map(|i| {
                let mut l = vec![0.0; p];
                l[i] = 1.0;
                kr.test(&[l], &inner.fit.beta).ddf
            })
            .collect();
        Ok((array2(py, &kr.phi_adj, p, p)?, df))
    }

    /// Kenward-Roger F test of L beta = 0: (F unscaled, numerator df, ddf, F scaling).
    fn kr_f_test(&self, py: Python<'_>, rows: Vec<Vec<f64>>) -> PyResult<(f64, usize, f64, f64)> {
        let inner = &self.inner;
        let kr = py.detach(|| inner.kenward_roger()).map_err(to_py)?;
        let t = kr.test(&rows, &inner.fit.beta);
        Ok((t.f_unscaled, t.ndf, t.ddf, t.f_scaling))
    }

    /// lme4's names of the random-effect parameters on the sd/cor scale.
    fn sd_cor_names(&self) -> Vec<String> {
        self.inner.sd_cor_names()
    }

    /// The estimates on lme4's sd/cor scale (theta's order), for the fit.
    fn sd_cor(&self) -> Vec<f64> {
        let f = &self.inner.fit;
        self.inner.model.par.sd_cor(&f.theta, f.sigma)
    }

    /// Profile confidence intervals: (lower, upper) for sd/cor..., sigma, then each fixed effect.
    fn profile(&self, py: Python<'_>, level: f64) -> PyResult<Vec<(f64, f64)>> {
        let inner = &self.inner;
        py.detach(|| mixedmodels::inference::profile::profile_intervals(inner, level)).map_err(to_py)
    }

    /// Parametric bootstrap replicates first..first+count: dict of arrays
    /// (theta, sd_cor, sigma, beta, objective, feval; rows of failed refits are NaN).
    fn bootstrap<'py>(&self, py: Python<'py>, first: u64, count: usize, seed: u64) -> PyResult<Bound<'py, PyDict>> {
        let inner = &self.inner;
        let reps = py.detach(|| mixedmodels::resample::parametric_bootstrap(inner, first, count, seed));
        let (k, p) = (inner.model.par.ntheta(), inner.fit.p);
        let matrix = |get: &dyn Fn(&mixedmodels::resample::Replicate) -> Vec<f64>, width: usize| -> Vec<f64> {
            let mut out = vec![f64::NAN; count * width];
            for (i, r) in reps.iter().enumerate() {
                if let Some(r) = r {
                    for (j, v) in get(r).into_iter().enumerate() {
                        out[j * count + i] = v;
                    }
                }
            }
            out
        };
        let d = PyDict::new(py);
        d.set_item("theta", array2(py, &matrix(&|r| r.theta.clone(), k), count, k)?)?;
        d.set_item("sd_cor", array2(py, &matrix(&|r| r.sd_cor.clone(), k), count, k)?)?;
        d.set_item("beta", array2(py, &matrix(&|r| r.beta.clone(), p), count, p)?)?;
        d.set_item("sigma", PyArray1::from_vec(py, matrix(&|r| vec![r.sigma], 1)))?;
        d.set_item("objective", PyArray1::from_vec(py, matrix(&|r| vec![r.objective], 1)))?;
        d.set_item("feval", PyArray1::from_vec(py, matrix(&|r| vec![r.feval as f64], 1)))?;
        Ok(d)
    }

    /// Predictions for new data (`response`: on the response's scale; a linear
    /// model's link is the identity, so both scales are the same).
    #[pyo3(signature = (frame, use_re, response=true))]
    fn predict<'py>(
        &self,
        py: Python<'py>,
        frame: PyFrame<'py>,
        use_re: bool,
        response: bool,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let _ = response;
        let inner = &self.inner;
        let v = with_frame(&frame, |df| py.detach(|| inner.predict(df, use_re)).map_err(to_py))?;
        Ok(PyArray1::from_vec(py, v))
    }

    /// nsim simulated responses (nobs x nsim).
    fn simulate<'py>(
        &self,
        py: Python<'py>,
        nsim: usize,
        use_re: bool,
        seed: u64,
    ) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let inner = &self.inner;
        let sims = py.detach(|| mixedmodels::resample::simulate(inner, nsim, use_re, seed));
        let n = inner.fit.n;
        let flat: Vec<f64> = sims.into_iter().flatten().collect();
        array2(py, &flat, n, nsim)
    }

    /// Residuals' variance-covariance helper for the summary: vcov(varpar) if computed.
    #[getter]
    fn vcov_varpar(&self) -> Option<Vec<f64>> {
        self.inner.fit.vcov_varpar.clone()
    }

    #[allow(clippy::unused_self)]
    fn __repr__(&self) -> String {
        format!("<LmerFit {} obs, {} fixed effects>", self.inner.fit.n, self.inner.fit.p)
    }
}
