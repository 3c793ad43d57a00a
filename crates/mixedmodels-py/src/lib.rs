//! Python bindings for the `mixedmodels` core crate: conversions, one
//! `#[pyclass]` a model kind, and the mapping of core errors to exceptions.

mod all_fit;
mod convert;
mod diagnostics;
mod errors;
mod fitted;
mod frame;
mod functions;
mod glmer;
mod group_sums;
mod lm;
mod lmer;
mod progress;
mod saved;
mod sums;

use pyo3::prelude::*;

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    errors::register(m)?;
    m.add_class::<fitted::PyMixedFit>()?;
    m.add_class::<lmer::PyLmer>()?;
    m.add_class::<glmer::PyGlmer>()?;
    m.add_class::<sums::PySumsSetup>()?;
    m.add_class::<sums::PySumsPlan>()?;
    m.add_class::<sums::PySumsAccumulator>()?;
    m.add_class::<sums::PyReducedStats>()?;
    m.add_class::<lm::PyLm>()?;
    m.add_class::<lm::PyGlm>()?;
    m.add_class::<lm::PyLm2>()?;
    m.add_function(wrap_pyfunction!(functions::formula_columns, m)?)?;
    m.add_function(wrap_pyfunction!(functions::model_matrix, m)?)?;
    m.add_function(wrap_pyfunction!(functions::formula_structure, m)?)?;
    m.add_function(wrap_pyfunction!(functions::link_inverse, m)?)?;
    m.add_function(wrap_pyfunction!(functions::link_mu_eta, m)?)?;
    m.add_function(wrap_pyfunction!(functions::independent_columns, m)?)?;
    for f in [
        wrap_pyfunction!(diagnostics::influence_observations, m)?,
        wrap_pyfunction!(diagnostics::influence_sets, m)?,
        wrap_pyfunction!(diagnostics::grouping, m)?,
        wrap_pyfunction!(diagnostics::residuals_marginal, m)?,
        wrap_pyfunction!(diagnostics::residuals_cholesky, m)?,
        wrap_pyfunction!(diagnostics::residuals_ls, m)?,
        wrap_pyfunction!(diagnostics::residuals_ls_groups, m)?,
        wrap_pyfunction!(diagnostics::cv_group_folds, m)?,
        wrap_pyfunction!(diagnostics::cv_row_folds, m)?,
        wrap_pyfunction!(diagnostics::cross_validate, m)?,
        wrap_pyfunction!(diagnostics::cv_score, m)?,
        wrap_pyfunction!(diagnostics::cv_response, m)?,
        wrap_pyfunction!(group_sums::influence_groups_sums, m)?,
        wrap_pyfunction!(group_sums::cross_validate_groups_sums, m)?,
    ] {
        m.add_function(f)?;
    }
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("MAX_AGQ_POINTS", mixedmodels::glmm::quadrature::MAX_AGQ_POINTS)?;
    Ok(())
}
