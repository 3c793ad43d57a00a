//! `#[pyclass]`es over the core's models without random effects: `LmFit`
//! (least squares), `GlmFit` (IRLS) and `Lm2Fit` (two-stage). Methods are
//! thin: convert, call the core with the GIL released, convert back.

use mixedmodels::design::DesignSpec;
use mixedmodels::lm::{
    CorrelationKind, FirstLevel, FlipStatistic, Glm, GlmOptions, Lm, Lm2, Lm2Options, LmOptions, LmWeights, SeChoice,
    SeMethod,
};
use numpy::{PyArray1, PyArray2};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::convert::{contrasts_from_py, matrix, matrix_rowmajor, positions, vector, ResidualKindArg};
use crate::errors::{data_error, to_py};
use crate::frame::{with_frame, PyFrame};

/// The covariance estimator by pymer4's name; "cluster" reads `cluster`.
fn se_choice(robust: &str, n_lags: usize, cluster: Option<String>) -> PyResult<SeChoice> {
    if robust == "cluster" {
        let column = cluster
            .ok_or_else(|| data_error("robust='cluster' needs cluster= (a column naming the clusters)".into()))?;
        return Ok(SeChoice::ClusterBy(column));
    }
    Ok(SeChoice::Method(SeMethod::parse(robust, n_lags).map_err(to_py)?))
}

/// Each fixed term of a design: {label, variables, numeric (per variable),
/// columns (indices into the coefficients, from R's `assign`)}.
fn term_info<'py>(py: Python<'py>, spec: &DesignSpec, assign: &[usize]) -> PyResult<Vec<Bound<'py, PyDict>>> {
    spec.fixed_terms()
        .into_iter()
        .enumerate()
        .map(|(i, (label, variables, numeric))| {
            let d = PyDict::new(py);
            d.set_item("label", label)?;
            d.set_item("variables", variables)?;
            d.set_item("numeric", numeric)?;
            let columns: Vec<usize> = (0..assign.len()).filter(|&j| assign[j] == i + 1).collect();
            d.set_item("columns", columns)?;
            Ok(d)
        })
        .collect()
}

#[pyclass(name = "LmFit", module = "mixedmodels._core")]
pub struct PyLm {
    inner: Lm,
}

#[pymethods]
impl PyLm {
    /// `weights`: a column of prior weights; `weight_groups`: a column whose
    /// groups give weights 1 / var(response) (Welch's df with two groups when
    /// `welch_df`); `robust`: "classical", "hc0"-"hc3", "hac" or "cluster".
    #[staticmethod]
    #[pyo3(signature = (formula, frame, weights=None, weight_groups=None, welch_df=true, robust="classical", n_lags=1, cluster=None, contrasts=None))]
    fn fit(
        py: Python<'_>,
        formula: &str,
        frame: PyFrame<'_>,
        weights: Option<String>,
        weight_groups: Option<String>,
        welch_df: bool,
        robust: &str,
        n_lags: usize,
        cluster: Option<String>,
        contrasts: Option<Vec<(String, Bound<'_, PyAny>)>>,
    ) -> PyResult<PyLm> {
        let weights = match (weights, weight_groups) {
            (Some(_), Some(_)) => return Err(data_error("give weights or weight_groups, not both".into())),
            (Some(c), None) => LmWeights::Column(c),
            (None, Some(column)) => LmWeights::GroupVariance { column, welch_df },
            (None, None) => LmWeights::None,
        };
        let options =
            LmOptions { contrasts: contrasts_from_py(contrasts)?, weights, se: se_choice(robust, n_lags, cluster)? };
        with_frame(&frame, |df| {
            let inner = py.detach(|| Lm::fit(formula, df, &options)).map_err(to_py)?;
            Ok(PyLm { inner })
        })
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
    fn beta<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        PyArray1::from_slice(py, &self.inner.fit.beta)
    }
    /// The covariance of the coefficients by the fit's estimator.
    #[getter]
    fn vcov<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let p = self.inner.ls.p;
        matrix(py, self.inner.vcov.to_vec(), p, p)
    }
    #[getter]
    fn se(&self) -> Vec<f64> {
        self.inner.se.clone()
    }
    /// The df of the t tests (n - p, G - p with clusters, or Welch's).
    #[getter]
    fn df(&self) -> f64 {
        self.inner.df
    }
    #[getter]
    fn sigma(&self) -> f64 {
        self.inner.sigma
    }
    #[getter]
    fn loglik(&self) -> f64 {
        self.inner.loglik
    }
    #[getter]
    fn aic(&self) -> f64 {
        self.inner.aic
    }
    #[getter]
    fn bic(&self) -> f64 {
        self.inner.bic
    }
    #[getter]
    fn rsquared(&self) -> f64 {
        self.inner.rsquared
    }
    #[getter]
    fn rsquared_adj(&self) -> f64 {
        self.inner.rsquared_adj
    }
    /// The coefficients and sigma.
    #[getter]
    fn npar(&self) -> usize {
        self.inner.ls.p + 1
    }
    #[getter]
    fn nobs(&self) -> usize {
        self.inner.ls.n
    }
    #[getter]
    fn weighted(&self) -> bool {
        self.inner.weights.is_some()
    }
    #[getter]
    fn fit_rows<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<i64>> {
        positions(py, &self.inner.rows)
    }
    #[getter]
    fn fit_mask<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<bool>> {
        PyArray1::from_vec(py, self.inner.rows.mask())
    }
    #[getter]
    fn warnings(&self) -> Vec<String> {
        self.inner.warnings.clone()
    }
    #[getter]
    fn fitted<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        PyArray1::from_vec(py, self.inner.fitted())
    }
    /// Residuals: "response", "pearson", "deviance" or "working" (R's `residuals.lm`).
    fn residuals<'py>(&self, py: Python<'py>, kind: ResidualKindArg) -> Bound<'py, PyArray1<f64>> {
        vector(py, self.inner.residuals(kind.0))
    }
    #[getter]
    fn response<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        PyArray1::from_vec(py, self.inner.response())
    }
    #[getter]
    fn prior_weights<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        let n = self.inner.ls.n;
        PyArray1::from_vec(py, self.inner.weights.clone().unwrap_or_else(|| vec![1.0; n]))
    }
    #[getter]
    fn offset<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        let n = self.inner.ls.n;
        PyArray1::from_vec(py, self.inner.offset.clone().unwrap_or_else(|| vec![0.0; n]))
    }
    #[getter]
    fn design_matrix<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        matrix(py, self.inner.ls.x.to_vec(), self.inner.ls.n, self.inner.ls.p)
    }
    /// Each fixed term: {label, variables, numeric (per variable), columns (indices into beta)}.
    fn term_info<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyDict>>> {
        term_info(py, &self.inner.spec, &self.inner.assign)
    }
    /// The design of new data in the fit's coding.
    fn model_matrix<'py>(&self, py: Python<'py>, frame: PyFrame<'py>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let inner = &self.inner;
        let mm = with_frame(&frame, |df| py.detach(|| inner.spec.fixed_matrix(df)).map_err(to_py))?;
        matrix(py, mm.values.to_vec(), mm.nrows, mm.ncols())
    }
    /// X beta (+ offsets) for new data.
    fn predict<'py>(&self, py: Python<'py>, frame: PyFrame<'py>) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let inner = &self.inner;
        let v = with_frame(&frame, |df| py.detach(|| inner.predict(df)).map_err(to_py))?;
        Ok(PyArray1::from_vec(py, v))
    }
    /// Permutation p-values of the t statistics (`n_perm` permutations of the response).
    fn permutation_test(&self, py: Python<'_>, n_perm: usize, seed: u64) -> Vec<f64> {
        let inner = &self.inner;
        py.detach(|| inner.permutation_test(n_perm, seed))
    }
    /// Case-bootstrap percentile intervals: (lower, upper, resamples skipped).
    fn bootstrap_intervals(&self, py: Python<'_>, n_boot: usize, seed: u64) -> (Vec<f64>, Vec<f64>, usize) {
        let inner = &self.inner;
        let (ci, skipped) = py.detach(|| inner.bootstrap_intervals(n_boot, seed));
        (ci.iter().map(|c| c[0]).collect(), ci.iter().map(|c| c[1]).collect(), skipped)
    }
    /// Semi-partial ("semi") or partial ("partial") correlations with the response.
    fn correlations(&self, py: Python<'_>, kind: &str) -> PyResult<Vec<f64>> {
        let kind = CorrelationKind::parse(kind).map_err(to_py)?;
        let inner = &self.inner;
        Ok(py.detach(|| inner.correlations(kind)))
    }
    fn __repr__(&self) -> String {
        format!("LmFit(n={}, p={})", self.inner.ls.n, self.inner.ls.p)
    }
}

#[pyclass(name = "GlmFit", module = "mixedmodels._core")]
pub struct PyGlm {
    inner: Glm,
}

#[pymethods]
impl PyGlm {
    #[staticmethod]
    #[pyo3(signature = (formula, frame, family="binomial", link=None, weights=None, contrasts=None))]
    fn fit(
        py: Python<'_>,
        formula: &str,
        frame: PyFrame<'_>,
        family: &str,
        link: Option<String>,
        weights: Option<String>,
        contrasts: Option<Vec<(String, Bound<'_, PyAny>)>>,
    ) -> PyResult<PyGlm> {
        let options = GlmOptions { family: family.into(), link, contrasts: contrasts_from_py(contrasts)?, weights };
        with_frame(&frame, |df| {
            let inner = py.detach(|| Glm::fit(formula, df, &options)).map_err(to_py)?;
            Ok(PyGlm { inner })
        })
    }

    /// The fit that ended at `beta` (its last IRLS step's working weights at
    /// `eta_weights`), rebuilt without iterating: a saved model loaded again.
    #[staticmethod]
    #[pyo3(signature = (formula, frame, beta, eta_weights, iterations, converged, family="binomial", link=None, weights=None, contrasts=None))]
    #[allow(clippy::too_many_arguments)]
    fn at_estimates(
        py: Python<'_>,
        formula: &str,
        frame: PyFrame<'_>,
        beta: Vec<f64>,
        eta_weights: Vec<f64>,
        iterations: usize,
        converged: bool,
        family: &str,
        link: Option<String>,
        weights: Option<String>,
        contrasts: Option<Vec<(String, Bound<'_, PyAny>)>>,
    ) -> PyResult<PyGlm> {
        let options = GlmOptions { family: family.into(), link, contrasts: contrasts_from_py(contrasts)?, weights };
        with_frame(&frame, |df| {
            let rebuild = || Glm::at_estimates(formula, df, &options, beta, eta_weights, iterations, converged);
            let inner = py.detach(rebuild).map_err(to_py)?;
            Ok(PyGlm { inner })
        })
    }

    /// The linear predictor of the last IRLS step's working weights (what
    /// `at_estimates` rebuilds the fit from, with `beta`).
    #[getter]
    fn eta_weights<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        PyArray1::from_slice(py, &self.inner.fit.eta_weights)
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
    fn beta<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        PyArray1::from_slice(py, &self.inner.fit.beta)
    }
    #[getter]
    fn vcov<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let p = self.inner.fixed_names.len();
        matrix(py, self.inner.fit.vcov.to_vec(), p, p)
    }
    #[getter]
    fn se(&self) -> Vec<f64> {
        self.inner.se.clone()
    }
    #[getter]
    fn link(&self) -> &'static str {
        self.inner.family.link.name()
    }
    #[getter]
    fn deviance(&self) -> f64 {
        self.inner.fit.deviance
    }
    #[getter]
    fn null_deviance(&self) -> f64 {
        self.inner.fit.null_deviance
    }
    #[getter]
    fn dispersion(&self) -> f64 {
        self.inner.fit.dispersion
    }
    #[getter]
    fn df_residual(&self) -> f64 {
        self.inner.fit.df_residual
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
        self.inner.fixed_names.len() + usize::from(self.inner.family.has_scale())
    }
    #[getter]
    fn nobs(&self) -> usize {
        self.inner.nobs
    }
    #[getter]
    fn iterations(&self) -> usize {
        self.inner.fit.iterations
    }
    #[getter]
    fn converged(&self) -> bool {
        self.inner.fit.converged
    }
    #[getter]
    fn fit_rows<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<i64>> {
        positions(py, &self.inner.rows)
    }
    #[getter]
    fn fit_mask<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<bool>> {
        PyArray1::from_vec(py, self.inner.rows.mask())
    }
    #[getter]
    fn warnings(&self) -> Vec<String> {
        self.inner.warnings.clone()
    }
    /// Fitted means (probabilities for the binomial).
    #[getter]
    fn fitted<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        PyArray1::from_slice(py, &self.inner.fit.mu)
    }
    /// The linear predictor X beta + offset.
    #[getter]
    fn linear_predictor<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        PyArray1::from_slice(py, &self.inner.fit.eta)
    }
    fn residuals<'py>(&self, py: Python<'py>, kind: ResidualKindArg) -> Bound<'py, PyArray1<f64>> {
        vector(py, self.inner.residuals(kind.0))
    }
    #[getter]
    fn response<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        PyArray1::from_slice(py, &self.inner.response.y)
    }
    #[getter]
    fn prior_weights<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        PyArray1::from_slice(py, &self.inner.response.weights)
    }
    #[getter]
    fn offset<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        PyArray1::from_slice(py, &self.inner.response.offset)
    }
    #[getter]
    fn design_matrix<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        matrix(py, self.inner.x.to_vec(), self.inner.nobs, self.inner.fixed_names.len())
    }
    /// Each fixed term: {label, variables, numeric (per variable), columns (indices into beta)}.
    fn term_info<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyDict>>> {
        term_info(py, &self.inner.spec, &self.inner.assign)
    }
    fn model_matrix<'py>(&self, py: Python<'py>, frame: PyFrame<'py>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let inner = &self.inner;
        let mm = with_frame(&frame, |df| py.detach(|| inner.spec.fixed_matrix(df)).map_err(to_py))?;
        matrix(py, mm.values.to_vec(), mm.nrows, mm.ncols())
    }
    /// Predictions for new data on the response scale (`response=True`) or the link scale.
    #[pyo3(signature = (frame, response=true))]
    fn predict<'py>(
        &self,
        py: Python<'py>,
        frame: PyFrame<'py>,
        response: bool,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let inner = &self.inner;
        let v = with_frame(&frame, |df| {
            py.detach(|| if response { inner.predict_response(df) } else { inner.predict_link(df) }).map_err(to_py)
        })?;
        Ok(PyArray1::from_vec(py, v))
    }
    fn __repr__(&self) -> String {
        format!("GlmFit(n={}, p={})", self.inner.nobs, self.inner.fixed_names.len())
    }
}

#[pyclass(name = "Lm2Fit", module = "mixedmodels._core")]
pub struct PyLm2 {
    inner: Lm2,
}

#[pymethods]
impl PyLm2 {
    /// `groups`: grouping columns, innermost first; `to_corrs`: None, "semi"
    /// or "partial" (Fisher z-transformed when `ztrans_corrs`); `robust` and
    /// `cluster` as `LmFit.fit`, for the second level.
    #[staticmethod]
    #[pyo3(signature = (formula, frame, groups, to_corrs=None, ztrans_corrs=true, robust="classical", n_lags=1, cluster=None, contrasts=None))]
    fn fit(
        py: Python<'_>,
        formula: &str,
        frame: PyFrame<'_>,
        groups: Vec<String>,
        to_corrs: Option<String>,
        ztrans_corrs: bool,
        robust: &str,
        n_lags: usize,
        cluster: Option<String>,
        contrasts: Option<Vec<(String, Bound<'_, PyAny>)>>,
    ) -> PyResult<PyLm2> {
        let first_level = match to_corrs {
            None => FirstLevel::Coefficients,
            Some(k) => {
                FirstLevel::Correlations { kind: CorrelationKind::parse(&k).map_err(to_py)?, fisher_z: ztrans_corrs }
            }
        };
        let options = Lm2Options {
            contrasts: contrasts_from_py(contrasts)?,
            groups,
            first_level,
            se: se_choice(robust, n_lags, cluster)?,
        };
        with_frame(&frame, |df| {
            let inner = py.detach(|| Lm2::fit(formula, df, &options)).map_err(to_py)?;
            Ok(PyLm2 { inner })
        })
    }

    #[getter]
    fn fixed_names(&self) -> Vec<String> {
        self.inner.fixed_names.clone()
    }
    #[getter]
    fn dropped_columns(&self) -> Vec<String> {
        self.inner.spec.fixed_dropped.clone()
    }
    /// The second-level estimates (group means of the first-level values).
    #[getter]
    fn beta<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        PyArray1::from_iter(py, self.inner.tests.iter().map(|t| t.estimate))
    }
    #[getter]
    fn se(&self) -> Vec<f64> {
        self.inner.tests.iter().map(|t| t.se).collect()
    }
    /// The second level's df, one a coefficient.
    #[getter]
    fn df(&self) -> Vec<f64> {
        self.inner.tests.iter().map(|t| t.df).collect()
    }
    /// The second-level covariance is per coefficient: the diagonal of se^2.
    #[getter]
    fn vcov<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let p = self.inner.tests.len();
        let mut v = vec![0.0; p * p];
        for (j, t) in self.inner.tests.iter().enumerate() {
            v[j * p + j] = t.se * t.se;
        }
        matrix(py, v.to_vec(), p, p)
    }
    #[getter]
    fn rsquared(&self) -> f64 {
        self.inner.rsquared
    }
    #[getter]
    fn rsquared_adj(&self) -> f64 {
        self.inner.rsquared_adj
    }
    #[getter]
    fn nobs(&self) -> usize {
        self.inner.nobs
    }
    #[getter]
    fn fit_rows<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<i64>> {
        positions(py, &self.inner.rows)
    }
    #[getter]
    fn fit_mask<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<bool>> {
        PyArray1::from_vec(py, self.inner.rows.mask())
    }
    #[getter]
    fn warnings(&self) -> Vec<String> {
        self.inner.warnings.clone()
    }
    #[getter]
    fn response<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        vector(py, self.inner.response())
    }
    /// Lm2 takes no weights: ones, one a row of the fit.
    #[getter]
    fn prior_weights<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        vector(py, vec![1.0; self.inner.nobs])
    }
    /// The formula's offsets on the rows of the fit (zeros without offsets).
    #[getter]
    fn offset<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        vector(py, self.inner.offset.clone().unwrap_or_else(|| vec![0.0; self.inner.nobs]))
    }
    #[getter]
    fn design_matrix<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        matrix(py, self.inner.x.to_vec(), self.inner.nobs, self.inner.fixed_names.len())
    }
    /// Each fixed term: {label, variables, numeric (per variable), columns (indices into beta)}.
    fn term_info<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyDict>>> {
        term_info(py, &self.inner.spec, &self.inner.assign)
    }
    fn model_matrix<'py>(&self, py: Python<'py>, frame: PyFrame<'py>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let inner = &self.inner;
        let mm = with_frame(&frame, |df| py.detach(|| inner.spec.fixed_matrix(df)).map_err(to_py))?;
        matrix(py, mm.values.to_vec(), mm.nrows, mm.ncols())
    }
    /// Each level's table: {columns: [(grouping column, labels a group)], values: groups x p}.
    fn levels<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyDict>>> {
        let p = self.inner.fixed_names.len();
        self.inner
            .levels
            .iter()
            .map(|level| {
                let d = PyDict::new(py);
                d.set_item("columns", level.columns.clone())?;
                d.set_item("values", matrix_rowmajor(py, level.values.clone(), level.ngroups, p)?)?;
                Ok(d)
            })
            .collect()
    }
    /// Per-group fits (first level of coefficients): fitted and residuals a
    /// row, R^2 and adjusted R^2 a group; None with correlations.
    fn group_fits<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        let Some(f) = &self.inner.group_fits else { return Ok(None) };
        let d = PyDict::new(py);
        d.set_item("fitted", PyArray1::from_slice(py, &f.fitted))?;
        d.set_item("residuals", PyArray1::from_slice(py, &f.residuals))?;
        d.set_item("rsquared", PyArray1::from_slice(py, &f.rsquared))?;
        d.set_item("rsquared_adj", PyArray1::from_slice(py, &f.rsquared_adj))?;
        d.set_item("nobs", f.nobs.clone())?;
        Ok(Some(d))
    }
    /// Sign-flip permutation p-values; `stat` "tstat" or "coef" (the mean).
    fn permutation_test(&self, py: Python<'_>, n_perm: usize, stat: &str, seed: u64) -> PyResult<Vec<f64>> {
        let stat = match stat {
            "tstat" | "t-stat" => FlipStatistic::TStat,
            "coef" | "mean" => FlipStatistic::Mean,
            other => return Err(data_error(format!("perm_on must be 't-stat' or 'coef', not '{other}'"))),
        };
        let inner = &self.inner;
        Ok(py.detach(|| inner.permutation_test(n_perm, stat, seed)))
    }
    /// Bootstrap percentile intervals of the second-level means: (lower, upper).
    fn bootstrap_intervals(&self, py: Python<'_>, n_boot: usize, seed: u64) -> (Vec<f64>, Vec<f64>) {
        let inner = &self.inner;
        let ci = py.detach(|| inner.bootstrap_intervals(n_boot, seed));
        (ci.iter().map(|c| c[0]).collect(), ci.iter().map(|c| c[1]).collect())
    }
    fn __repr__(&self) -> String {
        format!("Lm2Fit(n={}, groups={})", self.inner.nobs, self.inner.levels[0].ngroups)
    }
}
