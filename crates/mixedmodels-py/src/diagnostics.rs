//! Influence diagnostics, HLMdiag's residual tables and cross-validation:
//! module-level functions of a fitted model (`LmerFit` or `GlmerFit`), each
//! converting, releasing the GIL around the core's routine
//! (`mixedmodels::diagnostics`), and converting back.

use mixedmodels::diagnostics::{self, cross_validation as cv, glmm, ExactDeletion, Measures};
use mixedmodels::lmer::Lmer;
use numpy::{PyArray1, PyArray2, PyReadonlyArray1};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::convert::matrix_rowmajor;
use crate::errors::{data_error, to_py};
use crate::glmer::PyGlmer;
use crate::lmer::PyLmer;

/// A float64 numpy vector.
type Vector<'py> = Bound<'py, PyArray1<f64>>;
/// A float64 numpy matrix.
type Matrix<'py> = Bound<'py, PyArray2<f64>>;

/// A fitted model of either kind.
enum Model<'py> {
    Lmer(PyRef<'py, PyLmer>),
    Glmer(PyRef<'py, PyGlmer>),
}

impl<'py> Model<'py> {
    fn of(obj: &Bound<'py, PyAny>) -> PyResult<Model<'py>> {
        if let Ok(m) = obj.extract::<PyRef<'py, PyLmer>>() {
            if !m.inner.holds_rows() {
                return Err(data_error(
                    "residuals and observation-level diagnostics need each row of the fit: an out-of-core \
                     fit holds only the sums over its rows (whole groups are deleted from those: \
                     influence(level=g), cross_validate(group=g))"
                        .into(),
                ));
            }
            return Ok(Model::Lmer(m));
        }
        Ok(Model::Glmer(obj.extract::<PyRef<'py, PyGlmer>>()?))
    }

    /// The linear mixed model, or a DataError saying what a GLMM offers instead.
    fn lmer(&self, what: &str) -> PyResult<&Lmer> {
        match self {
            Model::Lmer(m) => Ok(&m.inner),
            Model::Glmer(_) => Err(data_error(format!(
                "{what} is defined for linear mixed models; for a generalized model use exact deletion \
                 (approx=False)"
            ))),
        }
    }
}

fn measures_dict<'py>(py: Python<'py>, m: &[Measures]) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    let column = |f: fn(&Measures) -> f64| PyArray1::from_vec(py, m.iter().map(f).collect());
    d.set_item("cooksd", column(|x| x.cooksd))?;
    d.set_item("mdffits", column(|x| x.mdffits))?;
    d.set_item("covtrace", column(|x| x.covtrace))?;
    d.set_item("covratio", column(|x| x.covratio))?;
    Ok(d)
}

/// HLMdiag's one-step measures and four leverages of every row of the fit.
#[pyfunction]
pub fn influence_observations<'py>(py: Python<'py>, model: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyDict>> {
    let model = Model::of(model)?;
    let m = model.lmer("one-step influence (approx=True)")?;
    let d = py.detach(|| diagnostics::observation_influence(m)).map_err(to_py)?;
    let out = measures_dict(py, &d.measures)?;
    let lev = |f: fn(&diagnostics::Leverage) -> f64| PyArray1::from_vec(py, d.leverage.iter().map(f).collect());
    out.set_item("leverage.overall", lev(|l| l.overall))?;
    out.set_item("leverage.fixef", lev(|l| l.fixef))?;
    out.set_item("leverage.ranef", lev(|l| l.ranef))?;
    out.set_item("leverage.ranef.uc", lev(|l| l.ranef_uc))?;
    Ok(out)
}

/// Measures for deleting each set of rows (indices into the fit's rows):
/// one-step (`approx`, linear models) or by exact refits, which add the
/// relative variance changes (`rvc`: sets x names) and `converged`.
#[pyfunction]
pub fn influence_sets<'py>(
    py: Python<'py>,
    model: &Bound<'py, PyAny>,
    sets: Vec<Vec<usize>>,
    approx: bool,
) -> PyResult<Bound<'py, PyDict>> {
    let model = Model::of(model)?;
    if approx {
        let m = model.lmer("one-step influence (approx=True)")?;
        let got = py.detach(|| diagnostics::set_influence_one_step(m, &sets)).map_err(to_py)?;
        return measures_dict(py, &got);
    }
    let (got, names): (Vec<ExactDeletion>, Vec<String>) = match &model {
        Model::Lmer(m) => {
            let m = &m.inner;
            (py.detach(|| diagnostics::set_influence_exact(m, &sets)).map_err(to_py)?, diagnostics::rvc_names(m))
        }
        Model::Glmer(g) => {
            let g = &g.inner;
            (py.detach(|| glmm::set_influence(g, &sets)).map_err(to_py)?, diagnostics::rvc_names_glmm(g))
        }
    };
    let out = measures_dict(py, &got.iter().map(|e| e.measures).collect::<Vec<_>>())?;
    let k = names.len();
    let rvc: Vec<f64> = got.iter().flat_map(|e| e.rvc.iter().copied()).collect();
    out.set_item("rvc", matrix_rowmajor(py, rvc, got.len(), k)?)?;
    out.set_item("rvc_names", names)?;
    out.set_item("converged", got.iter().map(|e| e.converged).collect::<Vec<_>>())?;
    Ok(out)
}

/// The level of each row of the fit of a grouping factor of the model, and its levels.
#[pyfunction]
pub fn grouping<'py>(
    py: Python<'py>,
    model: &Bound<'py, PyAny>,
    group: &str,
) -> PyResult<(Bound<'py, PyArray1<u32>>, Vec<String>)> {
    let model = Model::of(model)?;
    let terms = match &model {
        Model::Lmer(m) => m.inner.terms().to_vec(),
        Model::Glmer(g) => g.inner.pirls.joint.terms.clone(),
    };
    let t = terms.iter().find(|t| t.group == group).ok_or_else(|| {
        let known: Vec<&str> = terms.iter().map(|t| t.group.as_str()).collect();
        data_error(format!("'{group}' is not a grouping factor of the model (its factors: {})", known.join(", ")))
    })?;
    Ok((PyArray1::from_slice(py, &t.refs), t.levels.clone()))
}

/// HLMdiag's marginal residuals and fitted values, y - X beta and X beta (with offset).
#[pyfunction]
pub fn residuals_marginal<'py>(py: Python<'py>, model: &Bound<'py, PyAny>) -> PyResult<(Vector<'py>, Vector<'py>)> {
    let model = Model::of(model)?;
    let m = model.lmer("hlm_resid")?;
    let (r, f) = diagnostics::marginal_residuals(m);
    Ok((PyArray1::from_vec(py, r), PyArray1::from_vec(py, f)))
}

/// HLMdiag's `.chol.mar.resid`.
#[pyfunction]
pub fn residuals_cholesky<'py>(py: Python<'py>, model: &Bound<'py, PyAny>) -> PyResult<Vector<'py>> {
    let model = Model::of(model)?;
    let m = model.lmer("hlm_resid")?;
    let r = py.detach(|| diagnostics::cholesky_marginal_residuals(m)).map_err(to_py)?;
    Ok(PyArray1::from_vec(py, r))
}

/// HLMdiag's level-1 least-squares residuals.
#[pyfunction]
pub fn residuals_ls<'py>(py: Python<'py>, model: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyDict>> {
    let model = Model::of(model)?;
    let m = model.lmer("hlm_resid")?;
    let ls = py.detach(|| diagnostics::ls_residuals(m));
    let d = PyDict::new(py);
    d.set_item("resid", PyArray1::from_vec(py, ls.resid))?;
    d.set_item("fitted", PyArray1::from_vec(py, ls.fitted))?;
    d.set_item("hat", PyArray1::from_vec(py, ls.hat))?;
    d.set_item("standardized", PyArray1::from_vec(py, ls.standardized))?;
    d.set_item("semi_standardized", PyArray1::from_vec(py, ls.semi_standardized))?;
    d.set_item("rank_deficient", ls.rank_deficient)?;
    Ok(d)
}

/// HLMdiag's group-level least-squares residuals of a grouping factor:
/// (column names, levels, values, standardized), each matrix levels x columns.
#[pyfunction]
pub fn residuals_ls_groups<'py>(
    py: Python<'py>,
    model: &Bound<'py, PyAny>,
    group: &str,
) -> PyResult<(Vec<String>, Vec<String>, Matrix<'py>, Matrix<'py>)> {
    let model = Model::of(model)?;
    let m = model.lmer("hlm_resid")?;
    let (names, levels, ls) = py.detach(|| diagnostics::ls_group_residuals(m, group)).map_err(to_py)?;
    let (l, k) = (levels.len(), names.len());
    let values = matrix_rowmajor(py, ls.values, l, k)?;
    let standardized = matrix_rowmajor(py, ls.standardized, l, k)?;
    Ok((names, levels, values, standardized))
}

/// Folds of whole levels (`k` None: one level a fold): (levels, rows) of each.
#[pyfunction]
#[pyo3(signature = (codes, levels, k, seed))]
pub fn cv_group_folds(
    codes: PyReadonlyArray1<'_, u32>,
    levels: usize,
    k: Option<usize>,
    seed: u64,
) -> PyResult<cv::GroupFolds> {
    let codes = codes.as_slice()?;
    if let Some(c) = codes.iter().find(|&&c| c as usize >= levels) {
        return Err(data_error(format!("group code {c} is not below the number of levels {levels}")));
    }
    cv::group_folds(codes, levels, k, seed).map_err(to_py)
}

/// `k` folds of `n` shuffled rows.
#[pyfunction]
pub fn cv_row_folds(n: usize, k: usize, seed: u64) -> PyResult<Vec<Vec<usize>>> {
    cv::row_folds(n, k, seed).map_err(to_py)
}

/// Refit without each fold and predict its rows (`conditional`: with the
/// refit's random effects; else at the population level). `reml` applies
/// to linear models. Returns each fold's predictions and convergence.
#[pyfunction]
pub fn cross_validate<'py>(
    py: Python<'py>,
    model: &Bound<'py, PyAny>,
    folds: Vec<Vec<usize>>,
    conditional: bool,
    reml: bool,
) -> PyResult<(Vec<Vector<'py>>, Vec<bool>)> {
    let model = Model::of(model)?;
    let prediction = if conditional { cv::Prediction::Conditional } else { cv::Prediction::Population };
    let results = match &model {
        Model::Lmer(m) => {
            let m = &m.inner;
            py.detach(|| cv::lmm(m, &folds, prediction, reml))
        }
        Model::Glmer(g) => {
            let g = &g.inner;
            py.detach(|| cv::glmm(g, &folds, prediction))
        }
    }
    .map_err(to_py)?;
    let converged = results.iter().map(|r| r.converged).collect();
    Ok((results.into_iter().map(|r| PyArray1::from_vec(py, r.predictions)).collect(), converged))
}

/// A built-in score of predictions (the model gives the family).
#[pyfunction]
pub fn cv_score(
    model: &Bound<'_, PyAny>,
    name: &str,
    y: PyReadonlyArray1<'_, f64>,
    yhat: PyReadonlyArray1<'_, f64>,
    weights: PyReadonlyArray1<'_, f64>,
) -> PyResult<f64> {
    let model = Model::of(model)?;
    let family = match &model {
        Model::Lmer(_) => None,
        Model::Glmer(g) => Some(g.inner.fit.family),
    };
    let score = cv::Score::parse(name).map_err(to_py)?;
    score.compute(y.as_slice()?, yhat.as_slice()?, weights.as_slice()?, family).map_err(to_py)
}

/// The response of a generalized model as the scores read it (proportions
/// for a binomial) and its prior weights (trials for a binomial), on the fit's rows.
#[pyfunction]
pub fn cv_response<'py>(py: Python<'py>, model: &Bound<'py, PyAny>) -> PyResult<(Vector<'py>, Vector<'py>)> {
    let model = Model::of(model)?;
    match &model {
        Model::Lmer(m) => {
            let m = &m.inner;
            let y: Vec<f64> = match &m.offset {
                Some(o) => m.model.y.iter().zip(o).map(|(a, b)| a + b).collect(),
                None => m.model.y.clone(),
            };
            let w = m.model.weights.clone().unwrap_or_else(|| vec![1.0; y.len()]);
            Ok((PyArray1::from_vec(py, y), PyArray1::from_vec(py, w)))
        }
        Model::Glmer(g) => {
            let r = &g.inner.pirls.resp;
            Ok((PyArray1::from_slice(py, &r.y), PyArray1::from_slice(py, &r.weights)))
        }
    }
}
