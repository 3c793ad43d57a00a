//! Case-deletion measures of the fixed effects (HLMdiag's definitions;
//! Christensen, Pearson and Johnson 1992; Schabenberger 2004), from the
//! change in beta and the covariances of beta with and without the deleted
//! rows:
//!
//! ```text
//!   cooksd   = d' V^{-1} d / p                 d = beta - beta_(A)
//!   mdffits  = d' V_(A)^{-1} d / p             V = vcov(beta), V_(A) = vcov(beta_(A))
//!   covtrace = | tr(V^{-1} V_(A)) - p |
//!   covratio = det(V_(A)) / det(V)
//! ```

use crate::linalg::small;

/// The four measures of one deletion (NaN where V_(A) is not positive definite).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measures {
    pub cooksd: f64,
    pub mdffits: f64,
    pub covtrace: f64,
    pub covratio: f64,
}

impl Measures {
    pub const NAN: Measures = Measures { cooksd: f64::NAN, mdffits: f64::NAN, covtrace: f64::NAN, covratio: f64::NAN };
}

/// A positive-definite p x p matrix by its Cholesky factor.
pub struct SpdFactor {
    p: usize,
    l: Vec<f64>,
}

impl SpdFactor {
    pub fn new(a: &[f64], p: usize) -> Option<SpdFactor> {
        let mut l = a.to_vec();
        (small::cholesky(&mut l, p) && l.iter().all(|v| v.is_finite())).then_some(SpdFactor { p, l })
    }

    /// log det(A).
    pub fn logdet(&self) -> f64 {
        2.0 * (0..self.p).map(|d| self.l[d * self.p + d].ln()).sum::<f64>()
    }

    /// x' A^{-1} x.
    pub fn quadratic(&self, x: &[f64]) -> f64 {
        let mut y = x.to_vec();
        small::solve_lower(&self.l, self.p, &mut y, 1);
        y.iter().map(|v| v * v).sum()
    }

    /// tr(A^{-1} B).
    pub fn trace_solve(&self, b: &[f64]) -> f64 {
        let mut y = b.to_vec();
        small::solve_lower(&self.l, self.p, &mut y, self.p);
        small::solve_lower_transpose(&self.l, self.p, &mut y, self.p);
        (0..self.p).map(|d| y[d * self.p + d]).sum()
    }
}

/// Above this tr(V^{-1} V_(A)) / p, the rows left no longer identify the
/// fixed effects (some combination's variance grew by this factor: a column
/// of X is zero without the rows, up to rounding).
const NOT_IDENTIFIED: f64 = 1e8;

/// The measures for `delta` = beta - beta_(A) and `vcov_deleted` = V_(A),
/// given the full fit's V (factored once); NaN when the rows left do not
/// identify the fixed effects.
pub fn measures(vcov: &SpdFactor, vcov_deleted: &[f64], delta: &[f64]) -> Measures {
    let p = delta.len();
    let Some(deleted) = SpdFactor::new(vcov_deleted, p) else { return Measures::NAN };
    let trace = vcov.trace_solve(vcov_deleted);
    if !(trace.is_finite() && trace < NOT_IDENTIFIED * p as f64) {
        return Measures::NAN;
    }
    Measures {
        cooksd: vcov.quadratic(delta) / p as f64,
        mdffits: deleted.quadratic(delta) / p as f64,
        covtrace: (trace - p as f64).abs(),
        covratio: (deleted.logdet() - vcov.logdet()).exp(),
    }
}
