//! Ordinary and weighted least squares, as R's `lm` computes them: the QR
//! decomposition of the whitened design sqrt(W) X, coefficients
//! beta = R^{-1} Q' sqrt(W) y, and (X'WX)^{-1} = R^{-1} R^{-T}. The design is
//! factored once; [`LeastSquares::solve`] then fits any response on it, which
//! is all a permutation test needs per replicate.

use crate::linalg::{self, ThinQr};

/// The factored design of a least-squares fit: X (n x p, full column rank,
/// column-major) and optional positive prior weights.
#[derive(Debug, Clone)]
pub struct LeastSquares {
    pub n: usize,
    pub p: usize,
    /// X as given.
    pub x: Vec<f64>,
    /// sqrt(w) a row (None: unit weights).
    pub sqrt_w: Option<Vec<f64>>,
    /// The whitened design sqrt(W) X (= X without weights).
    pub xw: Vec<f64>,
    pub qr: ThinQr,
    /// (X'WX)^{-1}, p x p.
    pub unscaled: Vec<f64>,
    /// The hat matrix's diagonal h_i (of the whitened design).
    pub leverages: Vec<f64>,
}

/// One response fitted on a [`LeastSquares`] design.
#[derive(Debug, Clone)]
pub struct OlsSolution {
    pub beta: Vec<f64>,
    /// X beta.
    pub fitted: Vec<f64>,
    /// y - X beta.
    pub residuals: Vec<f64>,
    /// sqrt(w) (y - X beta): the residuals of the whitened problem, which
    /// the variance estimators read.
    pub whitened_residuals: Vec<f64>,
}

impl OlsSolution {
    /// The weighted residual sum of squares, sum w e^2.
    pub fn rss(&self) -> f64 {
        linalg::dot(&self.whitened_residuals, &self.whitened_residuals)
    }
}

impl LeastSquares {
    /// Factor X (n x p, n >= p, columns independent) with optional weights (all > 0).
    pub fn new(x: &[f64], n: usize, p: usize, weights: Option<&[f64]>) -> LeastSquares {
        let sqrt_w: Option<Vec<f64>> = weights.map(|w| w.iter().map(|v| v.sqrt()).collect());
        let xw = match &sqrt_w {
            Some(s) => {
                x[..n * p].chunks_exact(n.max(1)).flat_map(|col| col.iter().zip(s).map(|(a, b)| a * b)).collect()
            }
            None => x[..n * p].to_vec(),
        };
        let qr = ThinQr::new(&xw, n, p);
        let unscaled = qr.unscaled_covariance();
        let leverages = qr.leverages();
        LeastSquares { n, p, x: x[..n * p].to_vec(), sqrt_w, xw, qr, unscaled, leverages }
    }

    /// The whitened response sqrt(w) y.
    pub fn whiten(&self, y: &[f64]) -> Vec<f64> {
        match &self.sqrt_w {
            Some(s) => y.iter().zip(s).map(|(a, b)| a * b).collect(),
            None => y.to_vec(),
        }
    }

    /// Fit the response `y`.
    pub fn solve(&self, y: &[f64]) -> OlsSolution {
        let beta = self.coefficients(y);
        let mut fitted = vec![0.0; self.n];
        linalg::gemm_nn(&mut fitted, &self.x, &beta, self.n, self.p, 1, 1.0, false);
        let residuals: Vec<f64> = y.iter().zip(&fitted).map(|(a, b)| a - b).collect();
        let whitened_residuals = self.whiten(&residuals);
        OlsSolution { beta, fitted, residuals, whitened_residuals }
    }

    /// beta = R^{-1} Q' sqrt(W) y.
    pub fn coefficients(&self, y: &[f64]) -> Vec<f64> {
        let mut beta = self.qr.qt_times(&self.whiten(y), 1);
        self.qr.solve_r(&mut beta, 1);
        beta
    }

    /// Residual degrees of freedom n - p.
    pub fn df_residual(&self) -> f64 {
        self.n as f64 - self.p as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weighted_fit_matches_the_normal_equations() {
        // x = 1..6, y with noise, weights 1..6: beta solves X'WX b = X'Wy.
        let n = 6;
        let xs: Vec<f64> = (1..=n).map(|i| i as f64).collect();
        let y = [2.1, 3.9, 6.2, 7.8, 10.1, 12.3];
        let w: Vec<f64> = (1..=n).map(|i| i as f64).collect();
        let mut x = vec![1.0; n];
        x.extend(&xs);
        let ls = LeastSquares::new(&x, n, 2, Some(&w));
        let s = ls.solve(&y);
        let (sw, swx, swxx) = (w.iter().sum::<f64>(), linalg::dot(&w, &xs), linalg::weighted_dot(&xs, &xs, Some(&w)));
        let (swy, swxy) = (linalg::dot(&w, &y), linalg::weighted_dot(&xs, &y, Some(&w)));
        let det = sw * swxx - swx * swx;
        let b0 = (swxx * swy - swx * swxy) / det;
        let b1 = (sw * swxy - swx * swy) / det;
        assert!((s.beta[0] - b0).abs() < 1e-12 && (s.beta[1] - b1).abs() < 1e-12, "{:?}", s.beta);
        // The weighted residuals are orthogonal to the weighted columns.
        assert!(linalg::weighted_dot(&s.residuals, &xs, Some(&w)).abs() < 1e-10);
        assert!((ls.unscaled[0] - swxx / det).abs() < 1e-12 && (ls.unscaled[3] - sw / det).abs() < 1e-12);
        assert!((s.rss() - linalg::weighted_dot(&s.residuals, &s.residuals, Some(&w))).abs() < 1e-12);
    }
}
