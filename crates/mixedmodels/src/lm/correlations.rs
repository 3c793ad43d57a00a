//! Semi-partial and partial correlations of each predictor with the
//! response (pymer4's `to_corrs`). For predictor c, r_c is the residual of
//! column c regressed on the other columns (with an intercept); the
//! semi-partial correlation is cor(y, r_c), the partial correlation
//! cor(e_y, r_c) with e_y the residual of y on those same other columns.

use super::ols::LeastSquares;
use crate::error::{Error, Result};
use crate::linalg;

/// Which correlation [`predictor_correlations`] computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CorrelationKind {
    Semi,
    Partial,
}

impl CorrelationKind {
    pub fn parse(name: &str) -> Result<CorrelationKind> {
        match name {
            "semi" => Ok(CorrelationKind::Semi),
            "partial" => Ok(CorrelationKind::Partial),
            other => Err(Error::Argument(format!("corr_type must be 'semi' or 'partial', not '{other}'"))),
        }
    }
}

/// One correlation a column of X (n x p); NaN for the intercept column
/// `intercept` (if the model has one).
pub fn predictor_correlations(
    x: &[f64],
    n: usize,
    p: usize,
    y: &[f64],
    intercept: Option<usize>,
    kind: CorrelationKind,
) -> Vec<f64> {
    (0..p).map(|c| if Some(c) == intercept { f64::NAN } else { correlation_of_column(x, n, p, y, c, kind) }).collect()
}

fn correlation_of_column(x: &[f64], n: usize, p: usize, y: &[f64], c: usize, kind: CorrelationKind) -> f64 {
    // The other columns, preceded by an intercept; dependent ones dropped.
    let mut others: Vec<f64> = vec![1.0; n];
    for j in (0..p).filter(|&j| j != c) {
        others.extend_from_slice(&x[j * n..(j + 1) * n]);
    }
    let width = others.len() / n.max(1);
    let keep = linalg::independent_columns(&others, n, width, 1e-7);
    let basis: Vec<f64> = keep.iter().flat_map(|&j| others[j * n..(j + 1) * n].iter().copied()).collect();
    let ls = LeastSquares::new(&basis, n, keep.len(), None);
    let r_c = ls.solve(&x[c * n..(c + 1) * n]).residuals;
    match kind {
        CorrelationKind::Semi => pearson(y, &r_c),
        CorrelationKind::Partial => pearson(&ls.solve(y).residuals, &r_c),
    }
}

/// Pearson's correlation coefficient.
pub fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        let (dx, dy) = (x - ma, y - mb);
        sab += dx * dy;
        saa += dx * dx;
        sbb += dy * dy;
    }
    sab / (saa * sbb).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_one_predictor_both_are_the_plain_correlation() {
        let n = 8;
        let xs: Vec<f64> = (0..n).map(|i| i as f64).collect();
        let y = [1.0, 3.0, 2.0, 5.0, 4.0, 7.0, 6.0, 9.0];
        let mut x = vec![1.0; n];
        x.extend(&xs);
        let r = pearson(&xs, &y);
        for kind in [CorrelationKind::Semi, CorrelationKind::Partial] {
            let c = predictor_correlations(&x, n, 2, &y, Some(0), kind);
            assert!(c[0].is_nan() && (c[1] - r).abs() < 1e-12, "{c:?}");
        }
    }
}
