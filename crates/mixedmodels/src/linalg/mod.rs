//! Linear algebra: faer is called from here and nowhere else. Dense matrices
//! are column-major slices; `small` has hand-written kernels for the q x q
//! blocks of one grouping level (q is 1, 2 or 3 in most models), where
//! calling into a general library costs more than the arithmetic.

pub mod small;

use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::cholesky::llt::factor::{cholesky_in_place, cholesky_in_place_scratch, LltRegularization};
use faer::linalg::matmul::triangular::BlockStructure;
use faer::linalg::triangular_solve::{solve_lower_triangular_in_place, solve_upper_triangular_in_place};
use faer::{Accum, MatMut, MatRef, Par};

/// Work sizes below this run single-threaded: threads cost more than they save.
const PARALLEL_MIN_DIM: usize = 192;

fn par_for(n: usize) -> Par {
    if n >= PARALLEL_MIN_DIM && rayon::current_num_threads() > 1 {
        Par::rayon(0)
    } else {
        Par::Seq
    }
}

fn mat(a: &[f64], nrows: usize, ncols: usize) -> MatRef<'_, f64> {
    MatRef::from_column_major_slice(a, nrows, ncols)
}

fn mat_mut(a: &mut [f64], nrows: usize, ncols: usize) -> MatMut<'_, f64> {
    MatMut::from_column_major_slice_mut(a, nrows, ncols)
}

/// In-place dense Cholesky factorization A = L L' of an n x n matrix (lower
/// triangle read and overwritten), with its scratch memory allocated once.
pub struct DenseCholesky {
    n: usize,
    scratch: MemBuffer,
}

impl DenseCholesky {
    pub fn new(n: usize) -> Self {
        let req = cholesky_in_place_scratch::<f64>(n, par_for(n), Default::default());
        DenseCholesky { n, scratch: MemBuffer::new(req) }
    }

    /// Factor in place; `Err(i)` if the leading minor of order i + 1 is not positive definite.
    pub fn factor(&mut self, a: &mut [f64]) -> Result<(), usize> {
        let n = self.n;
        let stack = MemStack::new(&mut self.scratch);
        cholesky_in_place(mat_mut(a, n, n), LltRegularization::default(), par_for(n), stack, Default::default())
            .map(|_| ())
            .map_err(|faer::linalg::cholesky::llt::factor::LltError::NonPositivePivot { index }| index)
    }
}

/// Solve L X = B in place (L n x n lower triangular, B n x k).
pub fn solve_lower(l: &[f64], n: usize, b: &mut [f64], k: usize) {
    if n == 0 || k == 0 {
        return;
    }
    solve_lower_triangular_in_place(mat(l, n, n), mat_mut(b, n, k), par_for(n));
}

/// Solve L' X = B in place (L n x n lower triangular, B n x k).
pub fn solve_lower_transpose(l: &[f64], n: usize, b: &mut [f64], k: usize) {
    if n == 0 || k == 0 {
        return;
    }
    solve_upper_triangular_in_place(mat(l, n, n).transpose(), mat_mut(b, n, k), par_for(n));
}

/// C -= A A' on the lower triangle of C (n x n); A is n x k.
pub fn sub_aat_lower(c: &mut [f64], n: usize, a: &[f64], k: usize) {
    if n == 0 || k == 0 {
        return;
    }
    let a = mat(a, n, k);
    faer::linalg::matmul::triangular::matmul(
        mat_mut(c, n, n),
        BlockStructure::TriangularLower,
        Accum::Add,
        a,
        BlockStructure::Rectangular,
        a.transpose(),
        BlockStructure::Rectangular,
        -1.0,
        par_for(n.max(k)),
    );
}

/// C = alpha A' B + beta C with A (k x m), B (k x n), C (m x n).
pub fn gemm_tn(c: &mut [f64], a: &[f64], b: &[f64], k: usize, m: usize, n: usize, alpha: f64, accumulate: bool) {
    if m == 0 || n == 0 {
        return;
    }
    let accum = if accumulate { Accum::Add } else { Accum::Replace };
    faer::linalg::matmul::matmul(
        mat_mut(c, m, n),
        accum,
        mat(a, k, m).transpose(),
        mat(b, k, n),
        alpha,
        par_for(m.max(n)),
    );
}

/// C = alpha A B + (C if accumulate) with A (m x k), B (k x n), C (m x n).
pub fn gemm_nn(c: &mut [f64], a: &[f64], b: &[f64], m: usize, k: usize, n: usize, alpha: f64, accumulate: bool) {
    if m == 0 || n == 0 {
        return;
    }
    let accum = if accumulate { Accum::Add } else { Accum::Replace };
    faer::linalg::matmul::matmul(mat_mut(c, m, n), accum, mat(a, m, k), mat(b, k, n), alpha, par_for(m.max(n)));
}

/// C = alpha A B' + (C if accumulate) with A (m x k), B (n x k), C (m x n).
pub fn gemm_nt(c: &mut [f64], a: &[f64], b: &[f64], m: usize, k: usize, n: usize, alpha: f64, accumulate: bool) {
    if m == 0 || n == 0 {
        return;
    }
    let accum = if accumulate { Accum::Add } else { Accum::Replace };
    faer::linalg::matmul::matmul(
        mat_mut(c, m, n),
        accum,
        mat(a, m, k),
        mat(b, n, k).transpose(),
        alpha,
        par_for(m.max(n)),
    );
}

/// Invert a lower-triangular matrix in place (lower triangle).
pub fn invert_lower_in_place(l: &mut [f64], n: usize) {
    if n == 0 {
        return;
    }
    let src = l.to_vec();
    faer::linalg::triangular_inverse::invert_lower_triangular(mat_mut(l, n, n), mat(&src, n, n), par_for(n));
}

/// Eigenvalues (ascending) and eigenvectors (columns, n x n) of a symmetric matrix.
pub fn symmetric_eigen(a: &[f64], n: usize) -> Option<(Vec<f64>, Vec<f64>)> {
    if n == 0 {
        return Some((vec![], vec![]));
    }
    let evd = mat(a, n, n).self_adjoint_eigen(faer::Side::Lower).ok()?;
    let values = (0..n).map(|i| evd.S()[i]).collect();
    let u = evd.U();
    let mut vectors = vec![0.0; n * n];
    for j in 0..n {
        for i in 0..n {
            vectors[j * n + i] = u[(i, j)];
        }
    }
    Some((values, vectors))
}

/// The inverse of a symmetric positive-definite matrix (full storage), or None.
pub fn inverse_spd(a: &[f64], n: usize) -> Option<Vec<f64>> {
    let mut l = a.to_vec();
    DenseCholesky::new(n).factor(&mut l).ok()?;
    for c in 0..n {
        for r in 0..c {
            l[c * n + r] = 0.0;
        }
    }
    invert_lower_in_place(&mut l, n);
    // (L L')^{-1} = L^{-T} L^{-1}
    let mut inv = vec![0.0; n * n];
    gemm_tn(&mut inv, &l, &l, n, n, n, 1.0, false);
    Some(inv)
}

/// Moore-Penrose pseudo-inverse of a symmetric matrix (eigenvalues below
/// `tol` times the largest are treated as zero), as MASS::ginv.
pub fn pseudo_inverse_symmetric(a: &[f64], n: usize, tol: f64) -> Option<Vec<f64>> {
    let (vals, vecs) = symmetric_eigen(a, n)?;
    let vmax = vals.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let mut inv = vec![0.0; n * n];
    for (k, &v) in vals.iter().enumerate() {
        if v.abs() > tol * vmax {
            for j in 0..n {
                for i in 0..n {
                    inv[j * n + i] += vecs[k * n + i] * vecs[k * n + j] / v;
                }
            }
        }
    }
    Some(inv)
}

/// The columns of an n x p matrix (column-major) that are linearly independent
/// of the columns before them, as R's `qr()` with LINPACK's limited pivoting
/// decides (a column is dependent when its residual norm, after projection on
/// the kept columns, is below `tol` times its own norm).
pub fn independent_columns(x: &[f64], n: usize, p: usize, tol: f64) -> Vec<usize> {
    let mut basis: Vec<Vec<f64>> = Vec::new();
    let mut keep = Vec::new();
    for j in 0..p {
        let col = &x[j * n..(j + 1) * n];
        let norm0 = col.iter().map(|v| v * v).sum::<f64>().sqrt();
        if norm0 == 0.0 {
            continue;
        }
        let mut r = col.to_vec();
        // Two passes of modified Gram-Schmidt for orthogonality to rounding.
        for _ in 0..2 {
            for q in &basis {
                let d: f64 = q.iter().zip(&r).map(|(a, b)| a * b).sum();
                r.iter_mut().zip(q).for_each(|(v, qv)| *v -= d * qv);
            }
        }
        let norm = r.iter().map(|v| v * v).sum::<f64>().sqrt();
        if norm > tol * norm0 {
            r.iter_mut().for_each(|v| *v /= norm);
            basis.push(r);
            keep.push(j);
        }
    }
    keep
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cholesky_and_solves_agree() {
        // A = [4 2; 2 3] -> L = [2 0; 1 sqrt(2)]
        let mut a = vec![4.0, 2.0, 2.0, 3.0];
        DenseCholesky::new(2).factor(&mut a).unwrap();
        assert!((a[0] - 2.0).abs() < 1e-15 && (a[1] - 1.0).abs() < 1e-15 && (a[3] - 2f64.sqrt()).abs() < 1e-15);
        let mut b = vec![2.0, 1.0 + 2f64.sqrt()];
        solve_lower(&a, 2, &mut b, 1);
        assert!((b[0] - 1.0).abs() < 1e-15 && (b[1] - 1.0).abs() < 1e-14);
        let mut bad = vec![1.0, 2.0, 2.0, 1.0];
        assert_eq!(DenseCholesky::new(2).factor(&mut bad), Err(1));
    }

    #[test]
    fn dependent_columns_are_found() {
        // columns: 1, x, 2x + 1 (dependent), x^2
        let x = [1.0, 2.0, 3.0, 4.0];
        let mut m = vec![1.0; 4];
        m.extend(x);
        m.extend(x.iter().map(|v| 2.0 * v + 1.0));
        m.extend(x.iter().map(|v| v * v));
        assert_eq!(independent_columns(&m, 4, 4, 1e-7), [0, 1, 3]);
    }
}
