//! Tests of linear hypotheses `L beta = rhs` about the fixed effects of a
//! linear mixed model, as lmerTest's `contest1D` (one row: a t test) and
//! `contestMD` (several rows: an F test) with Satterthwaite's df, or
//! pbkrtest's `KRmodcomp` with Kenward-Roger's adjusted covariance, df and
//! scaled F. The one assembly behind `anova`, `contest` and post hoc tests;
//! p-values are left to the caller (they are the F or t distribution's tails).

use super::satterthwaite;
use crate::error::{Error, Result};
use crate::linalg;
use crate::lmer::Lmer;

/// How the denominator degrees of freedom are found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DdfMethod {
    /// Satterthwaite's (lmerTest), from the derivatives at the optimum.
    Satterthwaite,
    /// Kenward-Roger's (pbkrtest), with the adjusted covariance (REML fits).
    KenwardRoger,
}

impl DdfMethod {
    /// `"Satterthwaite"` or `"Kenward-Roger"`.
    pub fn parse(name: &str) -> Result<DdfMethod> {
        match name {
            "Satterthwaite" => Ok(DdfMethod::Satterthwaite),
            "Kenward-Roger" => Ok(DdfMethod::KenwardRoger),
            other => Err(Error::Argument(format!("ddf must be 'Satterthwaite' or 'Kenward-Roger', not '{other}'"))),
        }
    }
}

/// The F test of `L beta = rhs`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FTest {
    /// The rank of L.
    pub num_df: usize,
    pub den_df: f64,
    /// The F statistic (Kenward-Roger's scaled F).
    pub f: f64,
    /// The mean square on the response's scale: the unscaled F times sigma^2
    /// (lmerTest's and pbkrtest's `Mean Sq`).
    pub mean_sq: f64,
}

/// The t test of `l' beta = rhs`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TTest {
    /// l' beta.
    pub estimate: f64,
    pub se: f64,
    pub df: f64,
    /// (estimate - rhs) / se.
    pub t: f64,
}

impl Lmer {
    /// The F test of `L beta = rhs` (`rows` of L, each of length p).
    pub fn f_test(&self, rows: &[Vec<f64>], rhs: &[f64], method: DdfMethod) -> Result<FTest> {
        self.check_hypothesis(rows, rhs)?;
        let beta = shifted_beta(rows, rhs, &self.fit.beta);
        let sigma2 = self.fit.sigma * self.fit.sigma;
        match method {
            DdfMethod::Satterthwaite => {
                let (d, a) = self.satterthwaite_parts()?;
                let (f, num_df, den_df) = satterthwaite::contrast_f(rows, &beta, &self.fit.vcov_beta, d, a);
                Ok(FTest { num_df, den_df, f, mean_sq: f * sigma2 })
            }
            DdfMethod::KenwardRoger => {
                let t = self.kenward_roger()?.test(rows, &beta);
                Ok(FTest {
                    num_df: t.ndf,
                    den_df: t.ddf,
                    f: t.f_unscaled * t.f_scaling,
                    mean_sq: t.f_unscaled * sigma2,
                })
            }
        }
    }

    /// The t test of `l' beta = rhs` (lmerTest's `contest1D`): the estimate,
    /// its standard error (Kenward-Roger's adjusted one with that method) and df.
    pub fn t_test(&self, l: &[f64], rhs: f64, method: DdfMethod) -> Result<TTest> {
        self.check_hypothesis(&[l.to_vec()], &[rhs])?;
        let estimate = linalg::dot(l, &self.fit.beta);
        let (variance, df) = match method {
            DdfMethod::Satterthwaite => {
                let (d, a) = self.satterthwaite_parts()?;
                (quadratic_form(l, &self.fit.vcov_beta), satterthwaite::contrast_df(l, &self.fit.vcov_beta, d, a))
            }
            DdfMethod::KenwardRoger => {
                let kr = self.kenward_roger()?;
                (quadratic_form(l, &kr.phi_adj), kr.test(&[l.to_vec()], &self.fit.beta).ddf)
            }
        };
        let se = variance.max(0.0).sqrt();
        let t = if se > 0.0 { (estimate - rhs) / se } else { f64::NAN };
        Ok(TTest { estimate, se, df, t })
    }

    /// Satterthwaite's df of each row of L (lmerTest's `contest1D` df).
    pub fn contrast_df(&self, rows: &[Vec<f64>]) -> Result<Vec<f64>> {
        self.check_hypothesis(rows, &vec![0.0; rows.len()])?;
        let (d, a) = self.satterthwaite_parts()?;
        Ok(rows.iter().map(|l| satterthwaite::contrast_df(l, &self.fit.vcov_beta, d, a)).collect())
    }

    fn satterthwaite_parts(&self) -> Result<(&super::Derivatives, &[f64])> {
        match (&self.fit.derivs, &self.fit.vcov_varpar) {
            (Some(d), Some(a)) => Ok((d, a)),
            _ => Err(Error::Argument(
                "Satterthwaite's df need the derivatives of the fit: refit without ddf='lme4'".into(),
            )),
        }
    }

    fn check_hypothesis(&self, rows: &[Vec<f64>], rhs: &[f64]) -> Result<()> {
        let p = self.fit.beta.len();
        if rows.is_empty() || rows.iter().any(|r| r.len() != p) {
            return Err(Error::Argument(format!("L must have at least one row and {p} columns, one a coefficient")));
        }
        if rhs.len() != rows.len() {
            return Err(Error::Argument(format!("rhs must have one value a row of L ({})", rows.len())));
        }
        Ok(())
    }
}

/// beta - ginv(L) rhs: the hypothesis `L beta = rhs` as `L beta' = 0`
/// (lmerTest's `contestMD`), with ginv(L) = L' (L L')^+.
fn shifted_beta(rows: &[Vec<f64>], rhs: &[f64], beta: &[f64]) -> Vec<f64> {
    if rhs.iter().all(|r| *r == 0.0) {
        return beta.to_vec();
    }
    let q = rows.len();
    let mut llt = vec![0.0; q * q];
    for i in 0..q {
        for j in 0..q {
            llt[j * q + i] = linalg::dot(&rows[i], &rows[j]);
        }
    }
    // singular values of L below 1e-7 of the largest count as zero (eigenvalues of L L' below 1e-14)
    let Some(inv) = linalg::pseudo_inverse_symmetric(&llt, q, 1e-14) else { return vec![f64::NAN; beta.len()] };
    let weights: Vec<f64> = (0..q).map(|i| (0..q).map(|j| inv[j * q + i] * rhs[j]).sum()).collect();
    let mut out = beta.to_vec();
    for (row, w) in rows.iter().zip(&weights) {
        out.iter_mut().zip(row).for_each(|(b, l)| *b -= w * l);
    }
    out
}

/// x' M x for a column-major square M.
fn quadratic_form(x: &[f64], m: &[f64]) -> f64 {
    let n = x.len();
    (0..n).map(|j| x[j] * (0..n).map(|i| x[i] * m[j * n + i]).sum::<f64>()).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shift_moves_beta_onto_the_hypothesis() {
        let rows = vec![vec![1.0, 1.0, 0.0], vec![0.0, 0.0, 2.0]];
        let beta = [1.0, 2.0, 3.0];
        let b = shifted_beta(&rows, &[5.0, 4.0], &beta);
        // L b = L beta - rhs
        assert!((b[0] + b[1] - (3.0 - 5.0)).abs() < 1e-12);
        assert!((2.0 * b[2] - (6.0 - 4.0)).abs() < 1e-12);
        assert_eq!(shifted_beta(&rows, &[0.0, 0.0], &beta), beta);
        assert!(DdfMethod::parse("Kenward-Roger").is_ok() && DdfMethod::parse("kr").is_err());
    }
}
