//! `MixedFit`: the Python base class of `LmerFit` and `GlmerFit`, with what
//! both kinds of fit answer (the core's `MixedFit` trait), written once.

use std::sync::Arc;

use mixedmodels::design::ReForm;
use mixedmodels::fitted::MixedFit;
use numpy::{PyArray1, PyArray2};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::convert::{matrix, positions, term_dicts, vector, ReFormArg, ResidualKindArg};
use crate::errors::{data_error, to_py};
use crate::frame::{with_frame, PyFrame};

/// The core's fitted model behind either kind of fit.
pub type SharedFit = Arc<dyn MixedFit + Send + Sync>;

#[pyclass(name = "MixedFit", module = "mixedmodels._core", subclass, frozen)]
pub struct PyMixedFit {
    fit: SharedFit,
}

impl PyMixedFit {
    pub fn new(fit: SharedFit) -> Self {
        PyMixedFit { fit }
    }
}

impl PyMixedFit {
    /// An error for row-level results of a fit that holds no rows (out of core).
    fn rows_held(&self, what: &str) -> PyResult<()> {
        if self.fit.holds_rows() {
            return Ok(());
        }
        Err(data_error(format!(
            "{what}: this model was fitted out of core, from sums over the data, and holds no rows; \
             row-level results come from another pass over the data (the model's lazy results)"
        )))
    }
}

#[pymethods]
impl PyMixedFit {
    #[getter]
    fn fixed_names(&self) -> Vec<String> {
        self.fit.fixed_names().to_vec()
    }
    /// Columns of X dropped as linearly dependent (rank deficiency).
    #[getter]
    fn dropped_columns(&self) -> Vec<String> {
        self.fit.spec().fixed_dropped.clone()
    }
    #[getter]
    fn beta<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        PyArray1::from_slice(py, self.fit.beta())
    }
    #[getter]
    fn vcov<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let p = self.fit.beta().len();
        matrix(py, self.fit.vcov().to_vec(), p, p)
    }
    #[getter]
    fn theta(&self) -> Vec<f64> {
        self.fit.theta().to_vec()
    }
    #[getter]
    fn sigma(&self) -> f64 {
        self.fit.sigma()
    }
    #[getter]
    fn has_scale(&self) -> bool {
        self.fit.has_scale()
    }
    /// The minimised criterion: the REML criterion, or -2 log-likelihood.
    #[getter]
    fn objective(&self) -> f64 {
        self.fit.objective()
    }
    #[getter]
    fn loglik(&self) -> f64 {
        self.fit.loglik()
    }
    #[getter]
    fn aic(&self) -> f64 {
        self.fit.aic()
    }
    #[getter]
    fn bic(&self) -> f64 {
        self.fit.bic()
    }
    #[getter]
    fn npar(&self) -> usize {
        self.fit.npar()
    }
    #[getter]
    fn nobs(&self) -> usize {
        self.fit.nobs()
    }
    /// The position in the data of each row the fit used.
    #[getter]
    fn fit_rows<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray1<i64>>> {
        self.rows_held("the positions of the rows used")?;
        Ok(positions(py, self.fit.rows()))
    }
    /// One flag a row of the data: did the fit use it?
    #[getter]
    fn fit_mask<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray1<bool>>> {
        self.rows_held("the mask of the rows used")?;
        Ok(PyArray1::from_vec(py, self.fit.rows().mask()))
    }
    #[getter]
    fn singular(&self) -> bool {
        self.fit.singular()
    }
    #[getter]
    fn warnings(&self) -> Vec<String> {
        self.fit.warnings().to_vec()
    }
    /// Fitted values on the response's scale.
    #[getter]
    fn fitted<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray1<f64>>> {
        self.rows_held("fitted values")?;
        Ok(PyArray1::from_slice(py, self.fit.fitted()))
    }
    #[getter]
    fn response<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray1<f64>>> {
        self.rows_held("the response")?;
        Ok(vector(py, self.fit.response()))
    }
    /// Prior weights of the rows of the fit (for a `cbind()` binomial
    /// response, times the trials, as R's `weights()`).
    #[getter]
    fn prior_weights<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray1<f64>>> {
        self.rows_held("prior weights")?;
        Ok(vector(py, self.fit.prior_weights()))
    }
    /// The formula's offsets on the rows of the fit (zeros without offsets).
    #[getter]
    fn offset<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray1<f64>>> {
        self.rows_held("offsets")?;
        Ok(vector(py, self.fit.offset()))
    }
    /// X on the rows of the fit (n x p).
    #[getter]
    fn design_matrix<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        self.rows_held("the design matrix")?;
        let p = self.fit.beta().len();
        matrix(py, self.fit.design().to_vec(), self.fit.nobs(), p)
    }

    /// Residuals of a kind: "response", "pearson", "deviance" or "working".
    fn residuals<'py>(&self, py: Python<'py>, kind: ResidualKindArg) -> PyResult<Bound<'py, PyArray1<f64>>> {
        self.rows_held("residuals")?;
        Ok(vector(py, self.fit.residuals(kind.0)))
    }

    /// One dict a random-effects term: group, cnames, levels, conditional
    /// modes (levels x q), covariance (q x q), theta offset.
    fn terms<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyDict>>> {
        term_dicts(py, self.fit.as_ref())
    }

    /// Conditional variances: one (levels x q x q, flattened) array a term.
    fn condvar<'py>(&self, py: Python<'py>) -> Vec<Bound<'py, PyArray1<f64>>> {
        let fit = &self.fit;
        let cv = py.detach(|| fit.conditional_variances());
        cv.into_iter().map(|v| vector(py, v)).collect()
    }

    /// lme4's names of the random-effect parameters on the sd/cor scale.
    fn sd_cor_names(&self) -> Vec<String> {
        self.fit.sd_cor_names()
    }

    /// The covariance parameters on lme4's sd/cor scale (sd_cor_names' order).
    fn sd_cor(&self) -> Vec<f64> {
        self.fit.sd_cor()
    }

    /// Each fixed term: {label, variables, numeric (per variable), columns (indices into beta)}.
    fn term_info<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyDict>>> {
        self.fit
            .fixed_terms()
            .into_iter()
            .map(|t| {
                let d = PyDict::new(py);
                d.set_item("label", t.label)?;
                d.set_item("variables", t.variables)?;
                d.set_item("numeric", t.numeric)?;
                d.set_item("columns", t.columns)?;
                Ok(d)
            })
            .collect()
    }

    /// The fixed-effects matrix of new data, in the fit's coding.
    fn model_matrix<'py>(&self, py: Python<'py>, frame: PyFrame<'py>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let fit = &self.fit;
        let mm = with_frame(&frame, |df| py.detach(|| fit.fixed_matrix(df)).map_err(to_py))?;
        let (nrows, ncols) = (mm.nrows, mm.ncols());
        matrix(py, mm.values, nrows, ncols)
    }

    /// Predictions for new data with the random effects `re_form` selects
    /// (True: all, unseen levels getting zero; False: none; or a formula of
    /// random-effect terms, lme4's `re.form`), on the response's scale or the link's.
    #[pyo3(signature = (frame, re_form, response=true))]
    fn predict<'py>(
        &self,
        py: Python<'py>,
        frame: PyFrame<'py>,
        re_form: ReFormArg,
        response: bool,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let fit = &self.fit;
        let v = with_frame(&frame, |df| py.detach(|| fit.predict(df, &re_form.0, response)).map_err(to_py))?;
        Ok(vector(py, v))
    }

    /// `nsim` simulated responses (nobs x nsim), conditioned on the random
    /// effects `re_form` selects (True: all; False: none, new ones drawn; a
    /// formula: its terms, read on `frame`, the rows of the fit); replicate i
    /// seeded by (seed, i).
    #[pyo3(signature = (nsim, re_form, seed, frame=None))]
    fn simulate<'py>(
        &self,
        py: Python<'py>,
        nsim: usize,
        re_form: ReFormArg,
        seed: u64,
        frame: Option<PyFrame<'py>>,
    ) -> PyResult<Bound<'py, PyArray2<f64>>> {
        self.rows_held("simulated responses")?;
        let fit = &self.fit;
        let nterms = fit.random_terms().len();
        let conditioned = match (&re_form.0, frame) {
            (ReForm::All, _) => vec![true; nterms],
            (ReForm::Nothing, _) => vec![false; nterms],
            (re, Some(frame)) => with_frame(&frame, |df| fit.conditioned_terms(re, df).map_err(to_py))?,
            (_, None) => return Err(data_error("simulate: a re_form formula needs the rows of the fit".into())),
        };
        let sims = py.detach(|| fit.simulate(nsim, &conditioned, seed));
        let flat: Vec<f64> = sims.into_iter().flatten().collect();
        matrix(py, flat, fit.nobs(), nsim)
    }
}
