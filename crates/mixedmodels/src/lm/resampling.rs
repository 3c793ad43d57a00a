//! Permutation tests and the case bootstrap of least-squares fits, in
//! parallel with rayon. Replicate `i` draws from `replicate_rng(seed, i)`
//! alone, so results depend on the seed and never on the number of threads.

use rayon::prelude::*;

use super::ols::LeastSquares;
use super::sandwich::{covariance, standard_errors, SeMethod};
use crate::linalg;
use crate::shuffle::{permutation, random_signs, replicate_rng, resample_rows};

/// R's tolerance for a rank-deficient design (as `lm`'s `qr`).
const RANK_TOL: f64 = 1e-7;

/// t statistics (beta / se by `method`) of the fit of `y` on `ls`.
pub fn t_statistics(ls: &LeastSquares, y: &[f64], method: &SeMethod) -> Vec<f64> {
    let fit = ls.solve(y);
    let se = standard_errors(&covariance(ls, &fit, method), ls.p);
    fit.beta.iter().zip(&se).map(|(b, s)| b / s).collect()
}

/// The t statistics of `count` fits of a permuted response (the rows of X,
/// and their weights, stay in place), one vector a replicate.
pub fn permuted_t(ls: &LeastSquares, y: &[f64], method: &SeMethod, count: usize, seed: u64) -> Vec<Vec<f64>> {
    (0..count as u64)
        .into_par_iter()
        .map(|i| {
            let order = permutation(y.len(), &mut replicate_rng(seed, i));
            let shuffled: Vec<f64> = order.iter().map(|&k| y[k]).collect();
            t_statistics(ls, &shuffled, method)
        })
        .collect()
}

/// Which statistic a sign-flip test permutes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlipStatistic {
    Mean,
    TStat,
}

/// The one-sample sign-flip test's null distribution: `count` replicates of
/// the statistic of `values` with random signs (the t statistic by `method`
/// on an intercept-only design, or the mean).
pub fn sign_flipped(values: &[f64], method: &SeMethod, stat: FlipStatistic, count: usize, seed: u64) -> Vec<f64> {
    let m = values.len();
    let ls = LeastSquares::new(&vec![1.0; m], m, 1, None);
    (0..count as u64)
        .into_par_iter()
        .map(|i| {
            let signs = random_signs(m, &mut replicate_rng(seed, i));
            let flipped: Vec<f64> = values.iter().zip(&signs).map(|(v, s)| v * s).collect();
            match stat {
                FlipStatistic::Mean => flipped.iter().sum::<f64>() / m as f64,
                FlipStatistic::TStat => t_statistics(&ls, &flipped, method)[0],
            }
        })
        .collect()
}

/// Two-sided permutation p-value of each observed statistic: (k + 1) / (N + 1)
/// with k the replicates at least as extreme in absolute value among the N
/// finite ones (Phipson and Smyth 2010; pymer4's `_perm_find`).
pub fn permutation_pvalues(observed: &[f64], replicates: &[Vec<f64>]) -> Vec<f64> {
    (0..observed.len())
        .map(|j| {
            let column = replicates.iter().map(|r| r[j]);
            permutation_pvalue(observed[j], column)
        })
        .collect()
}

/// [`permutation_pvalues`] for a single statistic.
pub fn permutation_pvalue(observed: f64, replicates: impl Iterator<Item = f64>) -> f64 {
    let (mut extreme, mut finite) = (0usize, 0usize);
    for v in replicates.filter(|v| v.is_finite()) {
        finite += 1;
        if v.abs() >= observed.abs() {
            extreme += 1;
        }
    }
    (extreme as f64 + 1.0) / (finite as f64 + 1.0)
}

/// Coefficients of `count` refits on rows resampled with replacement (each
/// row keeps its x, y and weight). A resample whose design is rank deficient
/// (a factor level that was not drawn, say) is `None`.
pub fn bootstrap_coefficients(
    x: &[f64],
    n: usize,
    p: usize,
    y: &[f64],
    weights: Option<&[f64]>,
    count: usize,
    seed: u64,
) -> Vec<Option<Vec<f64>>> {
    (0..count as u64)
        .into_par_iter()
        .map(|i| {
            let rows = resample_rows(n, &mut replicate_rng(seed, i));
            let xb: Vec<f64> = (0..p).flat_map(|j| rows.iter().map(move |&r| x[j * n + r])).collect();
            if linalg::independent_columns(&xb, n, p, RANK_TOL).len() < p {
                return None;
            }
            let yb: Vec<f64> = rows.iter().map(|&r| y[r]).collect();
            let wb: Option<Vec<f64>> = weights.map(|w| rows.iter().map(|&r| w[r]).collect());
            Some(LeastSquares::new(&xb, n, p, wb.as_deref()).coefficients(&yb))
        })
        .collect()
}

/// R's default quantile (type 7) of each coefficient over the successful
/// replicates: the percentile interval at `probs`, one row a coefficient.
pub fn percentile_intervals(replicates: &[Option<Vec<f64>>], p: usize, probs: &[f64]) -> Vec<Vec<f64>> {
    (0..p)
        .map(|j| {
            let mut v: Vec<f64> = replicates.iter().flatten().map(|b| b[j]).filter(|x| x.is_finite()).collect();
            v.sort_by(f64::total_cmp);
            probs.iter().map(|&q| quantile_type7(&v, q)).collect()
        })
        .collect()
}

/// R's `quantile(type = 7)` of sorted values (NaN when there are none).
pub fn quantile_type7(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let h = (sorted.len() - 1) as f64 * q;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn design(n: usize) -> (Vec<f64>, Vec<f64>) {
        let mut x = vec![1.0; n];
        x.extend((0..n).map(|i| ((i * 7) % 11) as f64));
        let y = (0..n).map(|i| 2.0 + 0.3 * ((i * 7) % 11) as f64 + ((i * 13) % 5) as f64 - 2.0).collect();
        (x, y)
    }

    #[test]
    fn permutations_do_not_depend_on_the_thread_count() {
        let (x, y) = design(40);
        let ls = LeastSquares::new(&x, 40, 2, None);
        let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
        let three = rayon::ThreadPoolBuilder::new().num_threads(3).build().unwrap();
        let a = one.install(|| permuted_t(&ls, &y, &SeMethod::Hc1, 64, 11));
        let b = three.install(|| permuted_t(&ls, &y, &SeMethod::Hc1, 64, 11));
        assert_eq!(a, b);
        let observed = t_statistics(&ls, &y, &SeMethod::Hc1);
        let p = permutation_pvalues(&observed, &a);
        // A strong slope: no permutation reaches it; p = 1 / 65.
        assert!((p[1] - 1.0 / 65.0).abs() < 1e-15, "{p:?}");
        let c = one.install(|| bootstrap_coefficients(&x, 40, 2, &y, None, 32, 5));
        let d = three.install(|| bootstrap_coefficients(&x, 40, 2, &y, None, 32, 5));
        assert_eq!(c, d);
        let f1 = one.install(|| sign_flipped(&y, &SeMethod::Classical, FlipStatistic::TStat, 32, 5));
        let f3 = three.install(|| sign_flipped(&y, &SeMethod::Classical, FlipStatistic::TStat, 32, 5));
        assert_eq!(f1, f3);
    }

    #[test]
    fn rank_deficient_resamples_are_skipped() {
        // A column that is nonzero in one row only: most resamples miss it.
        let n = 30;
        let mut x = vec![1.0; n];
        x.extend((0..n).map(|i| if i == 0 { 1.0 } else { 0.0 }));
        let y: Vec<f64> = (0..n).map(|i| i as f64).collect();
        let reps = bootstrap_coefficients(&x, n, 2, &y, None, 50, 1);
        // A resample misses row 0 with probability (29/30)^30, about 0.36.
        let skipped = reps.iter().filter(|r| r.is_none()).count();
        assert!(skipped > 8 && skipped < 30, "{skipped}");
        assert!(reps.iter().flatten().all(|b| b.iter().all(|v| v.is_finite())));
    }

    #[test]
    fn type7_quantiles_match_r() {
        // quantile(c(1, 2, 4, 8), c(0.025, 0.5, 0.975)) = 1.075, 3, 7.7
        let v = [1.0, 2.0, 4.0, 8.0];
        assert!((quantile_type7(&v, 0.025) - 1.075).abs() < 1e-12);
        assert!((quantile_type7(&v, 0.5) - 3.0).abs() < 1e-12);
        assert!((quantile_type7(&v, 0.975) - 7.7).abs() < 1e-12);
    }
}
