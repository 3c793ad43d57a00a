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

/// For 2 x 2 blocks: L = chol(lambda' B lambda + I), with lambda lower
/// triangular (column-major, [a, b, 0, c]) and B symmetric. False if not
/// positive definite.
#[inline]
pub fn factor_2x2(lam: &[f64], bm: &[f64], l: &mut [f64]) -> bool {
    let (a, b, c) = (lam[0], lam[1], lam[3]);
    let (b00, b10, b11) = (bm[0], bm[1], bm[3]);
    // lambda' B lambda for lambda = [[a, 0], [b, c]]
    let m00 = a * a * b00 + 2.0 * a * b * b10 + b * b * b11 + 1.0;
    let m10 = c * (a * b10 + b * b11);
    let m11 = c * c * b11 + 1.0;
    if m00 <= 0.0 {
        return false;
    }
    let l00 = m00.sqrt();
    let l10 = m10 / l00;
    let d = m11 - l10 * l10;
    if d <= 0.0 {
        return false;
    }
    l[0] = l00;
    l[1] = l10;
    l[2] = 0.0;
    l[3] = d.sqrt();
    true
}

/// For 2 x 2 blocks: out = L^{-1} lambda' M for M (2 x k), column-major.
#[inline]
pub fn lambda_solve_2x2(lam: &[f64], l: &[f64], m: &[f64], out: &mut [f64], k: usize) {
    let (a, b, c) = (lam[0], lam[1], lam[3]);
    for col in 0..k {
        let (m0, m1) = (m[2 * col], m[2 * col + 1]);
        let v0 = a * m0 + b * m1;
        let v1 = c * m1;
        let x0 = v0 / l[0];
        out[2 * col] = x0;
        out[2 * col + 1] = (v1 - l[1] * x0) / l[3];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_by_two_closed_forms_match_the_general_kernels() {
        let lam = [1.3, -0.4, 0.0, 0.7];
        let bm = [5.0, 2.0, 2.0, 3.0];
        let mut general = vec![0.0; 4];
        let mut tmp = vec![0.0; 4];
        at_m_b(&lam, &bm, &lam, 2, 2, 2, 2, &mut tmp, &mut general);
        general[0] += 1.0;
        general[3] += 1.0;
        assert!(cholesky(&mut general, 2));
        let mut fast = vec![0.0; 4];
        assert!(factor_2x2(&lam, &bm, &mut fast));
        for (a, b) in fast.iter().zip(&general) {
            assert!((a - b).abs() < 1e-14);
        }
        let m = [1.0, 2.0, -3.0, 0.5];
        let mut want = vec![0.0; 4];
        at_m(&lam, &m, 2, 2, 2, &mut want);
        solve_lower(&general, 2, &mut want, 2);
        let mut got = vec![0.0; 4];
        lambda_solve_2x2(&lam, &fast, &m, &mut got, 2);
        for (a, b) in got.iter().zip(&want) {
            assert!((a - b).abs() < 1e-14);
        }
    }

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
