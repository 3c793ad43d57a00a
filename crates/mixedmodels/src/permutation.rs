//! Permutation tests of a mixed model's fixed effects (pymer4's
//! `Lmer.fit(permute=N)`): the response is shuffled within the cells of the
//! grouping factors (rows that share every grouping factor's level), so the
//! random-effects structure of the data is kept, and the model is refitted;
//! each coefficient's p-value compares its t (or z) statistic with those of
//! the refits. Refits run in parallel: a linear model's each on its own copy
//! of the cross-products (only y changes), a generalized model's as a new fit
//! on the same rows started at the fitted theta. Replicate `i` draws from
//! `replicate_rng(seed, i)`, so results do not depend on the thread count.

use std::collections::BTreeMap;

use rayon::prelude::*;

use crate::design::ReTerm;
use crate::fit::optimize;
use crate::glmer::Glmer;
use crate::lm::resampling::permutation_pvalues;
use crate::lmer::Lmer;
use crate::model::LinearMixedModel;
use crate::shuffle::{permutation_within, replicate_rng};

/// The t statistics of the refits, one vector a permutation (NaN where a
/// refit failed), and each coefficient's permutation p-value.
#[derive(Debug, Clone, PartialEq)]
pub struct PermutationTest {
    pub t: Vec<Vec<f64>>,
    pub pvalues: Vec<f64>,
}

/// The rows of each cell of the grouping factors (every term's level).
pub fn grouping_cells(m: &Lmer) -> Vec<Vec<usize>> {
    cells_of(&m.model.terms, m.model.n())
}

fn cells_of(terms: &[ReTerm], n: usize) -> Vec<Vec<usize>> {
    let mut cells: BTreeMap<Vec<u32>, Vec<usize>> = BTreeMap::new();
    for i in 0..n {
        let key: Vec<u32> = terms.iter().map(|t| t.refs[i]).collect();
        cells.entry(key).or_default().push(i);
    }
    cells.into_values().collect()
}

/// beta / se at a model's current theta.
fn t_statistics(model: &LinearMixedModel) -> Vec<f64> {
    let sigma = model.sigma();
    let unscaled = model.unscaled_vcov();
    let p = model.p();
    model.beta().iter().enumerate().map(|(j, b)| b / (sigma * unscaled[j * p + j].sqrt())).collect()
}

/// `n_perm` refits with the response shuffled within grouping cells.
pub fn permutation_test(m: &Lmer, n_perm: usize, seed: u64) -> PermutationTest {
    let cells = grouping_cells(m);
    let n = m.model.n();
    let offset = m.offset.clone().unwrap_or_else(|| vec![0.0; n]);
    let y: Vec<f64> = m.model.y.iter().zip(&offset).map(|(a, o)| a + o).collect();
    let threads = rayon::current_num_threads().max(1);
    let indices: Vec<u64> = (0..n_perm as u64).collect();
    let chunk = indices.len().div_ceil(threads).max(1);
    let t: Vec<Vec<f64>> = indices
        .par_chunks(chunk)
        .flat_map_iter(|idx| {
            let mut model = m.model.replicate();
            idx.iter()
                .map(|&i| {
                    let order = permutation_within(n, &cells, &mut replicate_rng(seed, i));
                    let shuffled = order.iter().zip(&offset).map(|(&k, o)| y[k] - o).collect();
                    model.set_response(shuffled);
                    match optimize(&mut model, &m.fit.theta, m.options.fit.optimizer) {
                        Ok(_) if model.factor.ok => t_statistics(&model),
                        _ => vec![f64::NAN; m.fit.p],
                    }
                })
                .collect::<Vec<_>>()
        })
        .collect();
    let observed: Vec<f64> = (0..m.fit.p).map(|j| m.fit.beta[j] / m.fit.vcov_beta[j * m.fit.p + j].sqrt()).collect();
    let pvalues = permutation_pvalues(&observed, &t);
    PermutationTest { t, pvalues }
}

/// `n_perm` refits of a generalized model with the response shuffled within
/// grouping cells; the statistic is beta / se with the covariance the fit
/// itself reports (Hessian-based, as glmer's).
pub fn glmm_permutation_test(m: &Glmer, n_perm: usize, seed: u64) -> PermutationTest {
    let n = m.pirls.resp.n();
    let cells = cells_of(&m.pirls.joint.terms, n);
    let y = &m.pirls.resp.y;
    let p = m.fit.beta.len();
    let z_of = |beta: &[f64], vcov: &[f64]| -> Vec<f64> { (0..p).map(|j| beta[j] / vcov[j * p + j].sqrt()).collect() };
    let t: Vec<Vec<f64>> = (0..n_perm as u64)
        .into_par_iter()
        .map(|i| {
            let order = permutation_within(n, &cells, &mut replicate_rng(seed, i));
            let shuffled = order.iter().map(|&k| y[k]).collect();
            match m.refit_response(shuffled, m.options.derivatives) {
                Ok(fit) => z_of(&fit.beta, &fit.vcov_beta),
                Err(_) => vec![f64::NAN; p],
            }
        })
        .collect();
    let observed = z_of(&m.fit.beta, &m.fit.vcov_beta);
    let pvalues = permutation_pvalues(&observed, &t);
    PermutationTest { t, pvalues }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::DataFrame;
    use crate::lmer::LmerOptions;

    fn model() -> Lmer {
        // 8 subjects x 6 days with a strong slope and subject intercepts.
        let n = 48;
        let subject: Vec<String> = (0..n).map(|i| format!("s{}", i / 6)).collect();
        let days: Vec<f64> = (0..n).map(|i| (i % 6) as f64).collect();
        let noise = |i: usize| ((i * 37 + 11) % 17) as f64 / 17.0 - 0.5;
        let y: Vec<f64> = (0..n).map(|i| 10.0 + (i / 6) as f64 + 2.0 * days[i] + 3.0 * noise(i)).collect();
        let data = DataFrame::new()
            .with_numeric("y", y)
            .unwrap()
            .with_numeric("days", days)
            .unwrap()
            .with_labels("subject", &subject)
            .unwrap();
        Lmer::fit("y ~ days + (1 | subject)", &data, &LmerOptions::default()).unwrap()
    }

    #[test]
    fn shuffles_stay_within_subjects_and_results_repeat() {
        let m = model();
        let cells = grouping_cells(&m);
        assert_eq!(cells.len(), 8);
        assert!(cells.iter().all(|c| c.len() == 6));
        let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
        let two = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
        let a = one.install(|| permutation_test(&m, 40, 9));
        let b = two.install(|| permutation_test(&m, 40, 9));
        assert_eq!(a, b);
        // The slope is far beyond any within-subject shuffle: p = 1 / 41.
        assert!((a.pvalues[1] - 1.0 / 41.0).abs() < 1e-12, "{:?}", a.pvalues);
        assert!(a.t.iter().all(|t| t[1].is_finite() && t[1].abs() < 6.0));
    }

    #[test]
    fn glmm_refits_of_the_same_response_reproduce_the_fit() {
        use crate::glmer::GlmerOptions;
        use crate::glmm::Family;
        let n = 120;
        let g: Vec<String> = (0..n).map(|i| format!("g{}", i / 12)).collect();
        let x: Vec<f64> = (0..n).map(|i| (i % 12) as f64 / 4.0 - 1.5).collect();
        let y: Vec<f64> = (0..n).map(|i| f64::from(((i * 7 + i / 12) % 10) < 3 + 2 * (i % 12) / 4)).collect();
        let data = DataFrame::new()
            .with_numeric("y", y.clone())
            .unwrap()
            .with_numeric("x", x)
            .unwrap()
            .with_labels("g", &g)
            .unwrap();
        let options = GlmerOptions { family: Family::parse("binomial", None).unwrap(), ..GlmerOptions::default() };
        let m = Glmer::fit("y ~ x + (1 | g)", &data, &options).unwrap();
        let again = m.refit_response(y, true).unwrap();
        assert!(again.beta.iter().zip(&m.fit.beta).all(|(a, b)| (a - b).abs() < 1e-4), "{:?}", again.beta);
        let test = glmm_permutation_test(&m, 20, 3);
        assert_eq!(test.t.len(), 20);
        assert!(test.pvalues.iter().all(|p| *p > 0.0 && *p <= 1.0));
        assert_eq!(test, glmm_permutation_test(&m, 20, 3));
    }
}
