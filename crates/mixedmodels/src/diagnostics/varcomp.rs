//! Variance components as HLMdiag lists them (`varcomp.mer`), for the
//! relative variance change RVC = refit / full - 1: sigma^2, then the lower
//! triangle, column by column, of the block-diagonal covariance of all random
//! effects (one block a term, sigma^2 lambda lambda'), named `D<row><col>`
//! (1-based). Zeros are dropped: the blocks between terms, and the full
//! fit's exact zeros; when that covariance is diagonal only its diagonal is kept.

use crate::model::Parameterization;

/// HLMdiag's tolerance for a diagonal covariance (`isDiagonal`).
const DIAGONAL_TOL: f64 = 1e-10;

/// Which entries of the covariance are listed, fixed by the full fit.
#[derive(Debug, Clone, PartialEq)]
pub struct VarCompLayout {
    /// `sigma2`, `D11`, `D21`, ...
    pub names: Vec<String>,
    /// (term, row, column) within the term's block of each D entry.
    entries: Vec<(usize, usize, usize)>,
    /// Is sigma^2 listed (not for a GLMM without a dispersion)?
    with_sigma: bool,
}

impl VarCompLayout {
    pub fn new(par: &Parameterization, theta: &[f64], sigma: f64) -> VarCompLayout {
        let blocks = covariance_blocks(par, theta, sigma);
        let diagonal = blocks
            .iter()
            .zip(&par.terms)
            .all(|(b, t)| (0..t.q).all(|c| (0..t.q).all(|r| r == c || b[c * t.q + r].abs() < DIAGONAL_TOL)));
        let mut names = vec!["sigma2".to_string()];
        let mut entries = Vec::new();
        let mut offset = 0;
        for (k, t) in par.terms.iter().enumerate() {
            for c in 0..t.q {
                for r in c..t.q {
                    let v = blocks[k][c * t.q + r];
                    if v != 0.0 && (!diagonal || r == c) {
                        names.push(format!("D{}{}", offset + r + 1, offset + c + 1));
                        entries.push((k, r, c));
                    }
                }
            }
            offset += t.q;
        }
        VarCompLayout { names, entries, with_sigma: true }
    }

    /// The layout without sigma^2 when `drop` (binomial and Poisson GLMMs).
    pub fn without_sigma(mut self, drop: bool) -> VarCompLayout {
        if drop && self.with_sigma {
            self.names.remove(0);
            self.with_sigma = false;
        }
        self
    }

    /// sigma^2 and the listed entries at (theta, sigma).
    pub fn values(&self, par: &Parameterization, theta: &[f64], sigma: f64) -> Vec<f64> {
        let blocks = covariance_blocks(par, theta, sigma);
        let mut out = if self.with_sigma { vec![sigma * sigma] } else { vec![] };
        out.extend(self.entries.iter().map(|&(k, r, c)| blocks[k][c * par.terms[k].q + r]));
        out
    }

    /// refit / full - 1, entry by entry.
    pub fn relative_change(&self, par: &Parameterization, full: &[f64], theta: &[f64], sigma: f64) -> Vec<f64> {
        self.values(par, theta, sigma).iter().zip(full).map(|(a, b)| a / b - 1.0).collect()
    }
}

/// sigma^2 lambda_k lambda_k' for each term.
fn covariance_blocks(par: &Parameterization, theta: &[f64], sigma: f64) -> Vec<Vec<f64>> {
    (0..par.terms.len())
        .map(|k| par.relative_covariance(theta, k).into_iter().map(|v| v * sigma * sigma).collect())
        .collect()
}
