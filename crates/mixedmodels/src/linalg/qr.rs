//! The thin QR decomposition X = Q R of a tall matrix (Householder, as R's
//! `qr()` for `lm`), with Q formed explicitly: least squares then needs only
//! products with Q and a triangular solve with R.

use faer::dyn_stack::{MemBuffer, MemStack, StackReq};
use faer::linalg::householder::{
    apply_block_householder_sequence_on_the_left_in_place_scratch,
    apply_block_householder_sequence_on_the_left_in_place_with_conj,
};
use faer::linalg::qr::no_pivoting::factor::{qr_in_place, qr_in_place_scratch, recommended_block_size};
use faer::linalg::triangular_inverse::invert_upper_triangular;
use faer::linalg::triangular_solve::solve_upper_triangular_in_place;
use faer::Conj;

use super::{gemm_nn, gemm_nt, gemm_tn, mat, mat_mut, par_for};

/// X (n x p, n >= p, full column rank) = Q R with Q n x p orthonormal
/// columns and R p x p upper triangular; both column-major.
#[derive(Debug, Clone)]
pub struct ThinQr {
    pub n: usize,
    pub p: usize,
    pub q: Vec<f64>,
    pub r: Vec<f64>,
}

impl ThinQr {
    pub fn new(x: &[f64], n: usize, p: usize) -> ThinQr {
        assert!(n >= p && x.len() >= n * p, "ThinQr needs a tall n x p matrix");
        if p == 0 {
            return ThinQr { n, p, q: vec![], r: vec![] };
        }
        let par = par_for(p);
        let block = recommended_block_size::<f64>(n, p);
        let mut a = x[..n * p].to_vec();
        let mut coeff = vec![0.0; block * p];
        let scratch = StackReq::any_of(&[
            qr_in_place_scratch::<f64>(n, p, block, par, Default::default()),
            apply_block_householder_sequence_on_the_left_in_place_scratch::<f64>(n, block, p),
        ]);
        let mut buffer = MemBuffer::new(scratch);
        let stack = MemStack::new(&mut buffer);
        qr_in_place(mat_mut(&mut a, n, p), mat_mut(&mut coeff, block, p), par, stack, Default::default());
        let mut r = vec![0.0; p * p];
        for c in 0..p {
            r[c * p..c * p + c + 1].copy_from_slice(&a[c * n..c * n + c + 1]);
        }
        // Q's first p columns: the Householder sequence applied to [I_p; 0].
        let mut q = vec![0.0; n * p];
        for j in 0..p {
            q[j * n + j] = 1.0;
        }
        apply_block_householder_sequence_on_the_left_in_place_with_conj(
            mat(&a, n, p),
            mat(&coeff, block, p),
            Conj::No,
            mat_mut(&mut q, n, p),
            par,
            MemStack::new(&mut buffer),
        );
        ThinQr { n, p, q, r }
    }

    /// Q'B for B n x k (k columns), p x k.
    pub fn qt_times(&self, b: &[f64], k: usize) -> Vec<f64> {
        let mut out = vec![0.0; self.p * k];
        gemm_tn(&mut out, &self.q, b, self.n, self.p, k, 1.0, false);
        out
    }

    /// Q C for C p x k, n x k.
    pub fn q_times(&self, c: &[f64], k: usize) -> Vec<f64> {
        let mut out = vec![0.0; self.n * k];
        gemm_nn(&mut out, &self.q, c, self.n, self.p, k, 1.0, false);
        out
    }

    /// Solve R B = C in place (C p x k).
    pub fn solve_r(&self, c: &mut [f64], k: usize) {
        if self.p == 0 || k == 0 {
            return;
        }
        solve_upper_triangular_in_place(mat(&self.r, self.p, self.p), mat_mut(c, self.p, k), par_for(self.p));
    }

    /// (X'X)^{-1} = R^{-1} R^{-T}, p x p (R's `chol2inv` of the QR's R).
    pub fn unscaled_covariance(&self) -> Vec<f64> {
        let p = self.p;
        if p == 0 {
            return vec![];
        }
        let mut rinv = vec![0.0; p * p];
        invert_upper_triangular(mat_mut(&mut rinv, p, p), mat(&self.r, p, p), par_for(p));
        for c in 0..p {
            for r in c + 1..p {
                rinv[c * p + r] = 0.0;
            }
        }
        let mut out = vec![0.0; p * p];
        gemm_nt(&mut out, &rinv, &rinv, p, p, p, 1.0, false);
        out
    }

    /// The diagonal of the hat matrix X (X'X)^{-1} X' = Q Q': each row's
    /// squared norm in Q (R's `hatvalues`).
    pub fn leverages(&self) -> Vec<f64> {
        let n = self.n;
        let mut h = vec![0.0; n];
        for col in self.q.chunks_exact(n) {
            h.iter_mut().zip(col).for_each(|(v, q)| *v += q * q);
        }
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn least_squares_through_q_and_r() {
        // y = 1 + 2 x exactly, x = 0..5: the fit recovers (1, 2).
        let n = 6;
        let mut x = vec![1.0; n];
        x.extend((0..n).map(|i| i as f64));
        let y: Vec<f64> = (0..n).map(|i| 1.0 + 2.0 * i as f64).collect();
        let qr = ThinQr::new(&x, n, 2);
        let mut b = qr.qt_times(&y, 1);
        qr.solve_r(&mut b, 1);
        assert!((b[0] - 1.0).abs() < 1e-12 && (b[1] - 2.0).abs() < 1e-12, "{b:?}");
        // Q has orthonormal columns and Q R = X.
        let qtq = qr.qt_times(&qr.q, 2);
        assert!((qtq[0] - 1.0).abs() < 1e-12 && qtq[1].abs() < 1e-12 && (qtq[3] - 1.0).abs() < 1e-12);
        let back = qr.q_times(&qr.r, 2);
        assert!(back.iter().zip(&x).all(|(a, b)| (a - b).abs() < 1e-12));
        // (X'X)^{-1} for an intercept and 0..5: [[11/21, -1/7], [-1/7, 2/35]].
        let v = qr.unscaled_covariance();
        assert!((v[0] - 11.0 / 21.0).abs() < 1e-12 && (v[1] + 1.0 / 7.0).abs() < 1e-12);
        assert!((v[3] - 2.0 / 35.0).abs() < 1e-12);
        // Leverages sum to p.
        assert!((qr.leverages().iter().sum::<f64>() - 2.0).abs() < 1e-12);
    }
}
