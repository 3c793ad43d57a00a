//! Kernels for the small dense blocks of one grouping level (q x q, q x k),
//! column-major, where q is the number of random effects a level.

/// Cholesky factorization in place (lower triangle; the upper is zeroed).
/// Returns false if the matrix is not positive definite.
#[inline]
pub fn cholesky(a: &mut [f64], q: usize) -> bool {
    if q == 1 {
        if a[0] <= 0.0 {
            return false;
        }
        a[0] = a[0].sqrt();
        return true;
    }
    for j in 0..q {
        let mut d = a[j * q + j];
        for k in 0..j {
            d -= a[k * q + j] * a[k * q + j];
        }
        if d <= 0.0 {
            return false;
        }
        let d = d.sqrt();
        a[j * q + j] = d;
        for i in j + 1..q {
            let mut s = a[j * q + i];
            for k in 0..j {
                s -= a[k * q + i] * a[k * q + j];
            }
            a[j * q + i] = s / d;
        }
        for i in 0..j {
            a[j * q + i] = 0.0;
        }
    }
    true
}

/// Solve L X = B in place; L is q x q lower, B is q x k.
#[inline]
pub fn solve_lower(l: &[f64], q: usize, b: &mut [f64], k: usize) {
    for c in 0..k {
        let col = &mut b[c * q..(c + 1) * q];
        for i in 0..q {
            let mut s = col[i];
            for t in 0..i {
                s -= l[t * q + i] * col[t];
            }
            col[i] = s / l[i * q + i];
        }
    }
}

/// Solve L' X = B in place; L is q x q lower, B is q x k.
#[inline]
pub fn solve_lower_transpose(l: &[f64], q: usize, b: &mut [f64], k: usize) {
    for c in 0..k {
        let col = &mut b[c * q..(c + 1) * q];
        for i in (0..q).rev() {
            let mut s = col[i];
            for t in i + 1..q {
                s -= l[i * q + t] * col[t];
            }
            col[i] = s / l[i * q + i];
        }
    }
}

/// Solve X L' = B in place for the rows of B (r x q, column-major), i.e. X = B L^{-T}.
#[inline]
pub fn solve_right_lower_transpose(l: &[f64], q: usize, b: &mut [f64], r: usize) {
    // Column j of X: (B_j - sum_{t<j} X_t L[j,t]) / L[j,j]
    for j in 0..q {
        for t in 0..j {
            let ljt = l[t * q + j];
            if ljt != 0.0 {
                for i in 0..r {
                    b[j * r + i] -= b[t * r + i] * ljt;
                }
            }
        }
        let d = l[j * q + j];
        for i in 0..r {
            b[j * r + i] /= d;
        }
    }
}

/// out = A' M B for A (r x s), M (r x t), B (t x u) -> out (s x u); used for
/// lambda' (Z'Z block) lambda with lower-triangular lambdas.
#[inline]
pub fn at_m_b(
    a: &[f64],
    m: &[f64],
    b: &[f64],
    r: usize,
    s: usize,
    t: usize,
    u: usize,
    tmp: &mut [f64],
    out: &mut [f64],
) {
    // tmp = M B (r x u)
    for c in 0..u {
        for i in 0..r {
            let mut v = 0.0;
            for k in 0..t {
                v += m[k * r + i] * b[c * t + k];
            }
            tmp[c * r + i] = v;
        }
    }
    // out = A' tmp (s x u)
    for c in 0..u {
        for i in 0..s {
            let mut v = 0.0;
            for k in 0..r {
                v += a[i * r + k] * tmp[c * r + k];
            }
            out[c * s + i] = v;
        }
    }
}

/// out = A' M for A (r x s), M (r x u) -> (s x u).
#[inline]
pub fn at_m(a: &[f64], m: &[f64], r: usize, s: usize, u: usize, out: &mut [f64]) {
    for c in 0..u {
        for i in 0..s {
            let mut v = 0.0;
            for k in 0..r {
                v += a[i * r + k] * m[c * r + k];
            }
            out[c * s + i] = v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_cholesky_solves() {
        let mut a = vec![4.0, 2.0, 0.0, 2.0, 5.0, 1.0, 0.0, 1.0, 3.0];
        let orig = a.clone();
        assert!(cholesky(&mut a, 3));
        // L L' == A
        for i in 0..3 {
            for j in 0..3 {
                let v: f64 = (0..3).map(|k| a[k * 3 + i] * a[k * 3 + j]).sum();
                assert!((v - orig[j * 3 + i]).abs() < 1e-14);
            }
        }
        let mut b = vec![1.0, 2.0, 3.0];
        solve_lower(&a, 3, &mut b, 1);
        solve_lower_transpose(&a, 3, &mut b, 1);
        // A b == (1,2,3)
        for i in 0..3 {
            let v: f64 = (0..3).map(|k| orig[k * 3 + i] * b[k]).sum();
            assert!((v - (i + 1) as f64).abs() < 1e-13);
        }
        let mut row = vec![1.0, 2.0, 3.0]; // 1 x 3
        solve_right_lower_transpose(&a, 3, &mut row, 1);
        // row L' == (1,2,3)
        for j in 0..3 {
            let v: f64 = (0..3).map(|k| row[k] * a[k * 3 + j]).sum();
            assert!((v - (j + 1) as f64).abs() < 1e-13);
        }
    }
}
