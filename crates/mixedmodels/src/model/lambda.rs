//! The relative covariance factor Lambda(theta): block-diagonal, one lower
//! triangular q x q block `lambda_k` per term repeated over its levels
//! (JSS 67(1), eq. 4). Theta lists each term's lower triangle column by column.

/// Shape of one random-effects term in the parameter vector.
#[derive(Debug, Clone, PartialEq)]
pub struct TermShape {
    pub q: usize,
    pub nlevels: usize,
    /// Index of the term's first parameter in theta.
    pub theta_offset: usize,
}

impl TermShape {
    pub fn ntheta(&self) -> usize {
        self.q * (self.q + 1) / 2
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Parameterization {
    pub terms: Vec<TermShape>,
}

impl Parameterization {
    pub fn new(shapes: &[(usize, usize)]) -> Self {
        let mut offset = 0;
        let terms = shapes
            .iter()
            .map(|&(q, nlevels)| {
                let t = TermShape { q, nlevels, theta_offset: offset };
                offset += t.ntheta();
                t
            })
            .collect();
        Parameterization { terms }
    }

    pub fn ntheta(&self) -> usize {
        self.terms.iter().map(TermShape::ntheta).sum()
    }

    /// Is parameter `i` a diagonal element of its term's factor?
    pub fn is_diagonal(&self, i: usize) -> bool {
        for t in &self.terms {
            if i < t.theta_offset + t.ntheta() {
                let mut k = t.theta_offset;
                for col in 0..t.q {
                    if i == k {
                        return true;
                    }
                    k += t.q - col;
                }
                return false;
            }
        }
        false
    }

    /// lme4's bounds: diagonal elements are non-negative, the rest free.
    pub fn lower_bounds(&self) -> Vec<f64> {
        (0..self.ntheta()).map(|i| if self.is_diagonal(i) { 0.0 } else { f64::NEG_INFINITY }).collect()
    }

    /// lme4's start: identity factors.
    pub fn initial_theta(&self) -> Vec<f64> {
        (0..self.ntheta()).map(|i| if self.is_diagonal(i) { 1.0 } else { 0.0 }).collect()
    }

    /// Write term `k`'s factor (q x q, column-major, lower) for `theta`.
    pub fn fill_lambda(&self, theta: &[f64], k: usize, out: &mut [f64]) {
        let t = &self.terms[k];
        let q = t.q;
        out[..q * q].iter_mut().for_each(|v| *v = 0.0);
        let mut idx = t.theta_offset;
        for col in 0..q {
            for row in col..q {
                out[col * q + row] = theta[idx];
                idx += 1;
            }
        }
    }

    /// lme4's standard deviations and correlations of the random effects, term
    /// by term in theta's order: the diagonal positions give sd = sigma
    /// sqrt((lambda lambda')_ii), the others the correlations.
    pub fn sd_cor(&self, theta: &[f64], sigma: f64) -> Vec<f64> {
        let mut out = Vec::with_capacity(self.ntheta());
        for (k, t) in self.terms.iter().enumerate() {
            let q = t.q;
            let c = self.relative_covariance(theta, k);
            let sd: Vec<f64> = (0..q).map(|i| c[i * q + i].sqrt()).collect();
            for col in 0..q {
                for row in col..q {
                    out.push(if row == col {
                        sigma * sd[col]
                    } else if sd[row] > 0.0 && sd[col] > 0.0 {
                        c[col * q + row] / (sd[row] * sd[col])
                    } else {
                        f64::NAN
                    });
                }
            }
        }
        out
    }

    /// theta from lme4's sd/cor scale (the inverse of [`Self::sd_cor`]): each
    /// term's covariance / sigma^2 is factored as lambda lambda' with lambda
    /// lower triangular; None if a correlation matrix is not positive semi-definite.
    pub fn theta_from_sd_cor(&self, sdcor: &[f64], sigma: f64) -> Option<Vec<f64>> {
        let mut theta = Vec::with_capacity(self.ntheta());
        let mut at = 0;
        for t in &self.terms {
            let q = t.q;
            let vals = &sdcor[at..at + t.ntheta()];
            at += t.ntheta();
            let mut sd = vec![0.0; q];
            let mut corr = vec![0.0; q * q];
            let mut idx = 0;
            for col in 0..q {
                for row in col..q {
                    if row == col {
                        sd[col] = vals[idx] / sigma;
                        corr[col * q + col] = 1.0;
                    } else {
                        corr[col * q + row] = vals[idx];
                        corr[row * q + col] = vals[idx];
                    }
                    idx += 1;
                }
            }
            // lambda = diag(sd) chol(corr); a zero sd leaves its column zero.
            let l = cholesky_semidefinite(&corr, q)?;
            for col in 0..q {
                for row in col..q {
                    theta.push(sd[row] * l[col * q + row]);
                }
            }
        }
        Some(theta)
    }

    /// The covariance of term `k`'s random effects in units of sigma^2: lambda lambda'.
    pub fn relative_covariance(&self, theta: &[f64], k: usize) -> Vec<f64> {
        let q = self.terms[k].q;
        let mut l = vec![0.0; q * q];
        self.fill_lambda(theta, k, &mut l);
        let mut c = vec![0.0; q * q];
        for i in 0..q {
            for j in 0..q {
                c[j * q + i] = (0..q).map(|m| l[m * q + i] * l[m * q + j]).sum();
            }
        }
        c
    }
}

/// Cholesky factor of a correlation matrix, allowing singular ones (pivots
/// that vanish leave their column zero); None if it is not positive semi-definite.
fn cholesky_semidefinite(a: &[f64], q: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; q * q];
    for j in 0..q {
        let mut d = a[j * q + j];
        for k in 0..j {
            d -= l[k * q + j] * l[k * q + j];
        }
        if d < -1e-10 {
            return None;
        }
        let d = d.max(0.0).sqrt();
        l[j * q + j] = d;
        for i in j + 1..q {
            let mut s = a[j * q + i];
            for k in 0..j {
                s -= l[k * q + i] * l[k * q + j];
            }
            l[j * q + i] = if d > 0.0 { s / d } else { 0.0 };
        }
    }
    Some(l)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_and_start_follow_lme4() {
        let p = Parameterization::new(&[(2, 18), (1, 5)]);
        assert_eq!(p.ntheta(), 4);
        assert_eq!(p.lower_bounds(), [0.0, f64::NEG_INFINITY, 0.0, 0.0]);
        assert_eq!(p.initial_theta(), [1.0, 0.0, 1.0, 1.0]);
        let mut l = [0.0; 4];
        p.fill_lambda(&[1.0, 2.0, 3.0, 4.0], 0, &mut l);
        assert_eq!(l, [1.0, 2.0, 0.0, 3.0]);
        assert_eq!(p.relative_covariance(&[1.0, 2.0, 3.0, 4.0], 0), [1.0, 2.0, 2.0, 13.0]);
        // sd/cor round trip: sd = sigma * sqrt(diag), cor = 2 / sqrt(13)
        let sc = p.sd_cor(&[1.0, 2.0, 3.0, 4.0], 2.0);
        assert!((sc[0] - 2.0).abs() < 1e-14 && (sc[1] - 2.0 / 13f64.sqrt()).abs() < 1e-14);
        assert!((sc[2] - 2.0 * 13f64.sqrt()).abs() < 1e-14 && (sc[3] - 8.0).abs() < 1e-14);
        let back = p.theta_from_sd_cor(&sc, 2.0).unwrap();
        for (a, b) in back.iter().zip([1.0, 2.0, 3.0, 4.0]) {
            assert!((a - b).abs() < 1e-12);
        }
    }
}
