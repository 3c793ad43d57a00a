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
    }
}
