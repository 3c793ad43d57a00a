//! Contrast codings of a factor, as R's `contr.treatment`, `contr.sum`,
//! `contr.helmert`, `contr.poly` and user matrices, with R's column labels.

use crate::error::{Error, Result};

/// How a factor is coded when a term asks for contrasts.
#[derive(Debug, Clone, PartialEq)]
pub enum Contrasts {
    /// Dummy columns for all levels but the first (R's default for factors).
    Treatment,
    /// Deviations from the grand mean; the last level is -1 on every column.
    Sum,
    Helmert,
    /// Orthogonal polynomials over equally spaced scores (R's default for ordered factors).
    Poly,
    /// A levels x k matrix, column-major, with optional column names.
    Matrix {
        values: Vec<f64>,
        ncol: usize,
        names: Option<Vec<String>>,
    },
}

impl Contrasts {
    pub fn parse(name: &str) -> Option<Contrasts> {
        Some(match name {
            "treatment" | "contr.treatment" | "dummy" | "contr.SAS" => Contrasts::Treatment,
            "sum" | "contr.sum" | "deviation" => Contrasts::Sum,
            "helmert" | "contr.helmert" => Contrasts::Helmert,
            "poly" | "contr.poly" | "polynomial" => Contrasts::Poly,
            _ => return None,
        })
    }

    /// The contrast matrix for `k` levels (k x ncol, column-major) and its column labels.
    pub fn matrix(&self, levels: &[String]) -> Result<(Vec<f64>, Vec<String>)> {
        let k = levels.len();
        if k < 2 && !matches!(self, Contrasts::Treatment) {
            return Ok((vec![], vec![]));
        }
        Ok(match self {
            Contrasts::Treatment => {
                let mut m = vec![0.0; k * (k.saturating_sub(1))];
                for j in 1..k {
                    m[(j - 1) * k + j] = 1.0;
                }
                (m, levels[1..].to_vec())
            }
            Contrasts::Sum => {
                let mut m = vec![0.0; k * (k - 1)];
                for j in 0..k - 1 {
                    m[j * k + j] = 1.0;
                    m[j * k + k - 1] = -1.0;
                }
                (m, numbered(k - 1))
            }
            Contrasts::Helmert => {
                let mut m = vec![0.0; k * (k - 1)];
                for j in 0..k - 1 {
                    for i in 0..=j {
                        m[j * k + i] = -1.0;
                    }
                    m[j * k + j + 1] = (j + 1) as f64;
                }
                (m, numbered(k - 1))
            }
            Contrasts::Poly => {
                let scores: Vec<f64> = (1..=k).map(|i| i as f64).collect();
                let basis = orthonormal_polynomials(&scores, k - 1);
                (basis[k..].to_vec(), poly_labels(k - 1))
            }
            Contrasts::Matrix { values, ncol, names } => {
                if values.len() != k * ncol {
                    return Err(Error::Argument(format!(
                        "a contrast matrix for {k} levels must have {k} rows (got {} values for {ncol} columns)",
                        values.len()
                    )));
                }
                let labels = names.clone().unwrap_or_else(|| numbered(*ncol));
                (values.clone(), labels)
            }
        })
    }
}

fn numbered(n: usize) -> Vec<String> {
    (1..=n).map(|i| i.to_string()).collect()
}

/// R's names for polynomial contrast columns: `.L .Q .C ^4 ^5 ...`.
fn poly_labels(n: usize) -> Vec<String> {
    (1..=n)
        .map(|d| match d {
            1 => ".L".to_string(),
            2 => ".Q".to_string(),
            3 => ".C".to_string(),
            _ => format!("^{d}"),
        })
        .collect()
}

/// Orthonormal polynomial basis of degrees 0..=degree over `x` (column-major,
/// n x (degree+1)), each column with a positive leading coefficient: the
/// normalised Q of the QR decomposition of the centred Vandermonde matrix, as
/// R's `contr.poly`/`make.poly`. Computed by modified Gram-Schmidt.
pub fn orthonormal_polynomials(x: &[f64], degree: usize) -> Vec<f64> {
    let n = x.len();
    let mean = x.iter().sum::<f64>() / n as f64;
    let mut q = vec![0.0; n * (degree + 1)];
    for d in 0..=degree {
        // The next power's direction as (x - mean) times the previous column
        // (the same span as (x - mean)^d, as Arnoldi builds it): powers of
        // ~80 centred scores overflow by degree 160, these stay of order 1.
        let mut col: Vec<f64> = if d == 0 {
            vec![1.0; n]
        } else {
            x.iter().zip(&q[(d - 1) * n..d * n]).map(|(v, prev)| (v - mean) * prev).collect()
        };
        // Two passes of Gram-Schmidt keep the columns orthogonal to rounding.
        for _ in 0..2 {
            for j in 0..d {
                let qj = &q[j * n..(j + 1) * n];
                let dot: f64 = qj.iter().zip(&col).map(|(a, b)| a * b).sum();
                for (c, a) in col.iter_mut().zip(qj) {
                    *c -= dot * a;
                }
            }
        }
        let norm = col.iter().map(|v| v * v).sum::<f64>().sqrt();
        for (i, c) in col.iter().enumerate() {
            q[d * n + i] = c / norm;
        }
    }
    q
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lv(k: usize) -> Vec<String> {
        (0..k).map(|i| format!("l{i}")).collect()
    }

    #[test]
    fn sum_and_helmert_match_r() {
        // contr.sum(3) = [1 0; 0 1; -1 -1]
        let (m, names) = Contrasts::Sum.matrix(&lv(3)).unwrap();
        assert_eq!(m, [1.0, 0.0, -1.0, 0.0, 1.0, -1.0]);
        assert_eq!(names, ["1", "2"]);
        // contr.helmert(3) = [-1 -1; 1 -1; 0 2]
        let (m, _) = Contrasts::Helmert.matrix(&lv(3)).unwrap();
        assert_eq!(m, [-1.0, 1.0, 0.0, -1.0, -1.0, 2.0]);
    }

    #[test]
    fn poly_matches_r() {
        // contr.poly(4): .L = (-3,-1,1,3)/sqrt(20), .Q = (1,-1,-1,1)/2, .C = (-1,3,-3,1)/sqrt(20)
        let (m, names) = Contrasts::Poly.matrix(&lv(4)).unwrap();
        let s20 = 20f64.sqrt();
        let want = [
            -3.0 / s20,
            -1.0 / s20,
            1.0 / s20,
            3.0 / s20,
            0.5,
            -0.5,
            -0.5,
            0.5,
            -1.0 / s20,
            3.0 / s20,
            -3.0 / s20,
            1.0 / s20,
        ];
        for (a, b) in m.iter().zip(want) {
            assert!((a - b).abs() < 1e-14, "{a} vs {b}");
        }
        assert_eq!(names, [".L", ".Q", ".C"]);
    }
}
