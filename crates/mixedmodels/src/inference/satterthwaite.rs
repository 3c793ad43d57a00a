//! Satterthwaite's denominator degrees of freedom, as lmerTest computes them
//! (Kuznetsova, Brockhoff and Christensen 2017, JSS 82(13), eqs. 8-10):
//! for a contrast l, df = 2 (l'Cl)^2 / (g' A g) with C = vcov(beta) as a
//! function of varpar = (theta, sigma), g_i = l' (dC/dvarpar_i) l and
//! A = 2 H^{-1}, H the Hessian of the deviance over varpar. Multi-row
//! contrasts combine the df of the eigen-directions of L C L' (Fai and
//! Cornelius 1996), as lmerTest's `contestMD`.

use super::derivatives::Derivatives;
use crate::linalg;

/// lmerTest's tolerance on the Hessian's eigenvalues.
const HESSIAN_TOL: f64 = 1e-8;

/// A = 2 H^+ (Moore-Penrose inverse over the positive eigenvalues), and
/// lmerTest's warnings about non-positive eigenvalues.
pub fn vcov_varpar(d: &Derivatives) -> (Vec<f64>, Vec<String>) {
    let k = d.theta.len() + 1;
    let mut warnings = Vec::new();
    let Some((vals, vecs)) = linalg::symmetric_eigen(&d.hess_varpar, k) else {
        return (vec![f64::NAN; k * k], vec!["the Hessian of the variance parameters could not be decomposed".into()]);
    };
    let negative: Vec<String> = vals.iter().filter(|v| **v < -HESSIAN_TOL).map(|v| format!("{v:.1e}")).collect();
    if !negative.is_empty() {
        warnings.push(format!(
            "Model failed to converge with {} negative eigenvalue(s): {}",
            negative.len(),
            negative.join(" ")
        ));
    }
    let zero: Vec<String> = vals.iter().filter(|v| v.abs() < HESSIAN_TOL).map(|v| format!("{v:.1e}")).collect();
    if !zero.is_empty() {
        warnings.push(format!(
            "Model may not have converged with {} eigenvalue(s) close to zero: {}",
            zero.len(),
            zero.join(" ")
        ));
    }
    let mut a = vec![0.0; k * k];
    for (e, &v) in vals.iter().enumerate() {
        if v > HESSIAN_TOL {
            for j in 0..k {
                for i in 0..k {
                    a[j * k + i] += 2.0 * vecs[e * k + i] * vecs[e * k + j] / v;
                }
            }
        }
    }
    (a, warnings)
}

fn quad(x: &[f64], m: &[f64], y: &[f64]) -> f64 {
    let n = x.len();
    let mut s = 0.0;
    for j in 0..n {
        for i in 0..n {
            s += x[i] * m[j * n + i] * y[j];
        }
    }
    s
}

/// Satterthwaite df of the single contrast l'beta.
pub fn contrast_df(l: &[f64], vcov_beta: &[f64], d: &Derivatives, a: &[f64]) -> f64 {
    let var = quad(l, vcov_beta, l);
    let g: Vec<f64> = d.jac_vcov.iter().map(|j| quad(l, j, l)).collect();
    2.0 * var * var / quad(&g, a, &g)
}

/// A multi-row contrast L beta = 0 (rows of `l`, each of length p): the F
/// statistic, its numerator df and Satterthwaite's denominator df.
pub fn contrast_f(rows: &[Vec<f64>], beta: &[f64], vcov_beta: &[f64], d: &Derivatives, a: &[f64]) -> (f64, usize, f64) {
    let q = rows.len();
    let p = beta.len();
    // V = L C L'
    let mut v = vec![0.0; q * q];
    for i in 0..q {
        for j in 0..q {
            v[j * q + i] = quad(&rows[i], vcov_beta, &rows[j]);
        }
    }
    let Some((vals, vecs)) = linalg::symmetric_eigen(&v, q) else { return (f64::NAN, q, f64::NAN) };
    // Eigenvalues descending, as R's eigen().
    let order: Vec<usize> = (0..q).rev().collect();
    let tol = (f64::EPSILON.sqrt() * vals[order[0]]).max(0.0);
    let mut t2 = 0.0;
    let mut nus = Vec::new();
    for &e in &order {
        let d_e = vals[e];
        if d_e <= tol {
            continue;
        }
        // Direction P_e' L
        let pl: Vec<f64> = (0..p).map(|c| (0..q).map(|r| vecs[e * q + r] * rows[r][c]).sum()).collect();
        let est: f64 = pl.iter().zip(beta).map(|(x, b)| x * b).sum();
        t2 += est * est / d_e;
        let g: Vec<f64> = d.jac_vcov.iter().map(|j| quad(&pl, j, &pl)).collect();
        nus.push(2.0 * d_e * d_e / quad(&g, a, &g));
    }
    let rank = nus.len();
    (t2 / rank as f64, rank, combine_df(&nus))
}

/// lmerTest's `get_Fstat_ddf`: E = sum nu/(nu - 2), df = 2E/(E - q).
pub fn combine_df(nu: &[f64]) -> f64 {
    match nu.len() {
        0 => f64::NAN,
        1 => nu[0],
        q => {
            if nu.windows(2).all(|w| (w[1] - w[0]).abs() < 1e-8) {
                return nu.iter().sum::<f64>() / q as f64;
            }
            if nu.iter().any(|v| *v <= 2.0) {
                return 2.0;
            }
            let e: f64 = nu.iter().map(|v| v / (v - 2.0)).sum();
            2.0 * e / (e - q as f64)
        }
    }
}
