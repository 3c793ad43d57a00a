//! Covariances of least-squares coefficients: the classical sigma^2 (X'WX)^{-1}
//! and the sandwich estimators B M B with bread B = (X'WX)^{-1}, as pymer4
//! defines them (Zeileis 2004 and 2006 describe R's `sandwich` package; the
//! differences from its defaults are noted at each estimator). Everything is
//! computed on the whitened problem: rows sqrt(w_i) x_i and residuals
//! sqrt(w_i) e_i, which is what `sandwich` does for a weighted `lm` as well.

use crate::error::{Error, Result};
use crate::linalg;

use super::ols::{LeastSquares, OlsSolution};

/// How the coefficients' covariance is estimated.
#[derive(Debug, Clone, PartialEq)]
pub enum SeMethod {
    /// sigma^2 (X'WX)^{-1} with sigma^2 = sum w e^2 / (n - p) (R's `vcov.lm`).
    Classical,
    /// Huber-White: M = sum u_i u_i', u_i = e_i x_i (`vcovHC(type = "HC0")`).
    Hc0,
    /// HC0 times n / (n - p) (`"HC1"`).
    Hc1,
    /// e_i^2 / (1 - h_i) with h_i the leverage (`"HC2"`).
    Hc2,
    /// e_i^2 / (1 - h_i)^2 (MacKinnon and White 1985, `"HC3"`).
    Hc3,
    /// Newey-West with Bartlett weights 1 - j / (lags + 1), j = 0..lags, in
    /// row order, without prewhitening and without a small-sample factor
    /// (`NeweyWest(lag = lags, prewhite = FALSE, adjust = FALSE)`; sandwich's
    /// defaults prewhiten and multiply by n / (n - p)).
    Hac { lags: usize },
    /// Cluster-robust (Cameron and Miller 2015): M = c sum_g U_g U_g', U_g the
    /// sum of u_i over cluster g, c = G / (G - 1) * n / (n - p). sandwich's
    /// `vcovCL(type = "HC1")` uses (n - 1) / (n - p) instead of n / (n - p).
    /// The residual df are G - p rather than n - p.
    Cluster { codes: Vec<u32>, ngroups: usize },
}

impl SeMethod {
    /// pymer4's names: "hc0", "hc1", "hc2", "hc3", "hac"; `cluster` is set apart.
    pub fn parse(name: &str, lags: usize) -> Result<SeMethod> {
        Ok(match name.to_ascii_lowercase().as_str() {
            "classical" | "standard" | "non-robust" => SeMethod::Classical,
            "hc0" => SeMethod::Hc0,
            "hc1" => SeMethod::Hc1,
            "hc2" => SeMethod::Hc2,
            "hc3" => SeMethod::Hc3,
            "hac" => SeMethod::Hac { lags },
            other => {
                return Err(Error::Argument(format!(
                    "robust must be one of 'hc0', 'hc1', 'hc2', 'hc3', 'hac' or 'cluster', not '{other}'"
                )))
            }
        })
    }

    /// The degrees of freedom of the t tests: n - p, or G - p for clusters.
    pub fn df(&self, n: usize, p: usize) -> f64 {
        match self {
            SeMethod::Cluster { ngroups, .. } => *ngroups as f64 - p as f64,
            _ => n as f64 - p as f64,
        }
    }
}

/// The covariance of the coefficients of `fit` on design `ls` (p x p).
pub fn covariance(ls: &LeastSquares, fit: &OlsSolution, method: &SeMethod) -> Vec<f64> {
    let (n, p) = (ls.n, ls.p);
    let e = &fit.whitened_residuals;
    let meat = match method {
        SeMethod::Classical => {
            let s2 = fit.rss() / ls.df_residual();
            return ls.unscaled.iter().map(|v| v * s2).collect();
        }
        SeMethod::Hc0 => scaled_gram(&ls.xw, n, p, e.iter().map(|v| v * v)),
        SeMethod::Hc1 => {
            let c = n as f64 / (n as f64 - p as f64);
            scaled_gram(&ls.xw, n, p, e.iter().map(|v| c * v * v))
        }
        SeMethod::Hc2 => scaled_gram(&ls.xw, n, p, e.iter().zip(&ls.leverages).map(|(v, h)| v * v / (1.0 - h))),
        SeMethod::Hc3 => {
            scaled_gram(&ls.xw, n, p, e.iter().zip(&ls.leverages).map(|(v, h)| v * v / ((1.0 - h) * (1.0 - h))))
        }
        SeMethod::Hac { lags } => newey_west_meat(&ls.xw, n, p, e, *lags),
        SeMethod::Cluster { codes, ngroups } => cluster_meat(&ls.xw, n, p, e, codes, *ngroups),
    };
    sandwich(&ls.unscaled, &meat, p)
}

/// Standard errors: the square roots of the covariance's diagonal.
pub fn standard_errors(vcov: &[f64], p: usize) -> Vec<f64> {
    (0..p).map(|j| vcov[j * p + j].sqrt()).collect()
}

/// B M B for symmetric B and M (p x p).
fn sandwich(bread: &[f64], meat: &[f64], p: usize) -> Vec<f64> {
    let mut bm = vec![0.0; p * p];
    linalg::gemm_nn(&mut bm, bread, meat, p, p, p, 1.0, false);
    let mut out = vec![0.0; p * p];
    linalg::gemm_nn(&mut out, &bm, bread, p, p, p, 1.0, false);
    out
}

/// X' diag(d) X for X n x p.
fn scaled_gram(x: &[f64], n: usize, p: usize, d: impl Iterator<Item = f64>) -> Vec<f64> {
    let d: Vec<f64> = d.collect();
    let mut gram = linalg::WeightedGram::default();
    gram.compute_gram(x, n, p, Some(&d));
    gram.gram
}

/// The rows' scores u_i = e_i x_i, n x p.
fn scores(x: &[f64], n: usize, p: usize, e: &[f64]) -> Vec<f64> {
    x[..n * p].chunks_exact(n).flat_map(|col| col.iter().zip(e).map(|(a, b)| a * b)).collect()
}

/// sum_{j=0..L} w_j (G_j + G_j') with G_j = sum_i u_i u_{i-j}', G_0 counted once.
fn newey_west_meat(x: &[f64], n: usize, p: usize, e: &[f64], lags: usize) -> Vec<f64> {
    let u = scores(x, n, p, e);
    let col = |a: usize| &u[a * n..(a + 1) * n];
    let mut meat = vec![0.0; p * p];
    for j in 0..=lags.min(n.saturating_sub(1)) {
        let w = 1.0 - j as f64 / (lags as f64 + 1.0);
        for a in 0..p {
            for b in 0..p {
                // G_j[a, b] = sum_i u_{i,a} u_{i-j,b}
                let g = linalg::dot(&col(a)[j..], &col(b)[..n - j]);
                if j == 0 {
                    meat[b * p + a] += w * g;
                } else {
                    meat[b * p + a] += w * g;
                    meat[a * p + b] += w * g;
                }
            }
        }
    }
    meat
}

/// c sum_g U_g U_g' with U_g the scores summed over cluster g.
fn cluster_meat(x: &[f64], n: usize, p: usize, e: &[f64], codes: &[u32], ngroups: usize) -> Vec<f64> {
    let mut sums = vec![0.0; ngroups * p]; // G x p, column-major
    for a in 0..p {
        let xa = &x[a * n..(a + 1) * n];
        for i in 0..n {
            sums[a * ngroups + codes[i] as usize] += xa[i] * e[i];
        }
    }
    let g = ngroups as f64;
    let c = g / (g - 1.0) * n as f64 / (n as f64 - p as f64);
    let mut meat = vec![0.0; p * p];
    linalg::gemm_tn(&mut meat, &sums, &sums, ngroups, p, p, c, false);
    meat
}

#[cfg(test)]
mod tests {
    use super::*;

    /// y on an intercept and x = 0..n-1 with alternating noise.
    fn small_fit(n: usize) -> (LeastSquares, OlsSolution) {
        let mut x = vec![1.0; n];
        x.extend((0..n).map(|i| i as f64));
        let y: Vec<f64> =
            (0..n).map(|i| 1.0 + 0.5 * i as f64 + if i % 3 == 0 { 1.0 } else { -0.4 * i as f64 / n as f64 }).collect();
        let ls = LeastSquares::new(&x, n, 2, None);
        let fit = ls.solve(&y);
        (ls, fit)
    }

    #[test]
    fn hc1_is_hc0_rescaled_and_hac_with_no_lags_is_hc0() {
        let (ls, fit) = small_fit(12);
        let v0 = covariance(&ls, &fit, &SeMethod::Hc0);
        let v1 = covariance(&ls, &fit, &SeMethod::Hc1);
        let c = 12.0 / 10.0;
        assert!(v0.iter().zip(&v1).all(|(a, b)| (a * c - b).abs() < 1e-12 * b.abs().max(1e-12)));
        let hac0 = covariance(&ls, &fit, &SeMethod::Hac { lags: 0 });
        assert!(v0.iter().zip(&hac0).all(|(a, b)| (a - b).abs() < 1e-12 * a.abs().max(1e-12)));
        // HC3 >= HC2 >= HC0 on the diagonal (leverages are in (0, 1)).
        let v2 = covariance(&ls, &fit, &SeMethod::Hc2);
        let v3 = covariance(&ls, &fit, &SeMethod::Hc3);
        assert!(v0[0] < v2[0] && v2[0] < v3[0]);
    }

    #[test]
    fn one_row_clusters_are_hc0_with_both_factors() {
        // With every row its own cluster the cluster meat is HC0's times
        // n / (n - 1) * n / (n - p).
        let n = 10;
        let (ls, fit) = small_fit(n);
        let v0 = covariance(&ls, &fit, &SeMethod::Hc0);
        let codes: Vec<u32> = (0..n as u32).collect();
        let vc = covariance(&ls, &fit, &SeMethod::Cluster { codes, ngroups: n });
        let c = 10.0 / 9.0 * 10.0 / 8.0;
        assert!(v0.iter().zip(&vc).all(|(a, b)| (a * c - b).abs() < 1e-12 * b.abs().max(1e-12)));
        assert_eq!(SeMethod::Cluster { codes: vec![], ngroups: 4 }.df(10, 2), 2.0);
    }

    #[test]
    fn classical_matches_sigma_squared_times_unscaled() {
        let (ls, fit) = small_fit(9);
        let v = covariance(&ls, &fit, &SeMethod::Classical);
        let s2 = fit.residuals.iter().map(|e| e * e).sum::<f64>() / 7.0;
        assert!((v[3] - s2 * ls.unscaled[3]).abs() < 1e-14);
        assert!(SeMethod::parse("HC3", 1).is_ok() && SeMethod::parse("hc4", 1).is_err());
    }
}
