//! Permutation tests of a linear mixed model's fixed effects (pymer4's
//! `Lmer.fit(permute=N)`): the response is shuffled within the cells of the
//! grouping factors (rows that share every grouping factor's level), so the
//! random-effects structure of the data is kept, and the model is refitted;
//! each coefficient's p-value compares its t statistic with those of the
//! refits. Refits run in parallel, each on its own copy of the model's
//! cross-products (only y changes); replicate `i` draws from
//! `replicate_rng(seed, i)`, so results do not depend on the thread count.

use std::collections::BTreeMap;

use rayon::prelude::*;

use crate::fit::optimize;
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
    let terms = &m.model.terms;
    let mut cells: BTreeMap<Vec<u32>, Vec<usize>> = BTreeMap::new();
    for i in 0..m.model.n() {
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
}
