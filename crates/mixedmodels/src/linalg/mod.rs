//! Linear algebra: faer is called from here and nowhere else. Dense matrices
//! are column-major slices; `small` has hand-written kernels for the q x q
//! blocks of one grouping level (q is 1, 2 or 3 in most models), where
//! calling into a general library costs more than the arithmetic.

pub mod qr;
pub mod small;

pub use qr::ThinQr;

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

/// The inverse of S = L L' (both triangles, n x n) from its Cholesky factor
/// `l` (lower triangle read): L^{-1} into the scratch `linv`, then
/// S^{-1} = L^{-T} L^{-1}, lower triangle by a triangular product, mirrored.
pub fn inverse_from_cholesky(l: &[f64], n: usize, linv: &mut [f64], out: &mut [f64]) {
    if n == 0 {
        return;
    }
    faer::linalg::triangular_inverse::invert_lower_triangular(mat_mut(linv, n, n), mat(l, n, n), par_for(n));
    let linv = mat(linv, n, n);
    faer::linalg::matmul::triangular::matmul(
        mat_mut(out, n, n),
        BlockStructure::TriangularLower,
        Accum::Replace,
        linv.transpose(),
        BlockStructure::TriangularUpper,
        linv,
        BlockStructure::TriangularLower,
        1.0,
        par_for(n),
    );
    for c in 0..n {
        for r in c + 1..n {
            out[r * n + c] = out[c * n + r];
        }
    }
}

/// Solve X L = B in place for X (B is r x n, L n x n lower triangular): X = B L^{-1}.
pub fn solve_right_lower(l: &[f64], n: usize, b: &mut [f64], r: usize) {
    if n == 0 || r == 0 {
        return;
    }
    // X L = B  <=>  L' X' = B'
    solve_upper_triangular_in_place(mat(l, n, n).transpose(), mat_mut(b, r, n).transpose_mut(), par_for(n));
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

/// Workspace for X'WX and X'Wy of an n x p column-major X with optional row
/// weights W. Its buffers grow on first use and are reused after, so a
/// GLMM's PIRLS steps, which recompute these with new working weights, do not
/// allocate.
#[derive(Debug, Clone, Default)]
pub struct WeightedGram {
    /// W X (only with weights).
    weighted_x: Vec<f64>,
    /// X'WX, p x p, both triangles.
    pub gram: Vec<f64>,
    /// X'Wy, p.
    pub xty: Vec<f64>,
}

impl WeightedGram {
    /// X'WX into `self.gram`, by one matrix product.
    pub fn compute_gram(&mut self, x: &[f64], n: usize, p: usize, w: Option<&[f64]>) {
        self.gram.clear();
        self.gram.resize(p * p, 0.0);
        if p == 0 {
            return;
        }
        let wx: &[f64] = match w {
            Some(w) => {
                self.weighted_x.clear();
                self.weighted_x
                    .extend(x[..n * p].chunks_exact(n).flat_map(|col| col.iter().zip(w).map(|(a, b)| a * b)));
                &self.weighted_x
            }
            None => x,
        };
        gemm_tn(&mut self.gram, x, wx, n, p, p, 1.0, false);
        // The product's two triangles may differ in the last bit: keep the lower.
        for c in 0..p {
            for r in c + 1..p {
                self.gram[r * p + c] = self.gram[c * p + r];
            }
        }
    }

    /// X'Wy into `self.xty`.
    pub fn compute_xty(&mut self, x: &[f64], n: usize, p: usize, w: Option<&[f64]>, y: &[f64]) {
        self.xty.clear();
        self.xty.extend(x.chunks_exact(n).take(p).map(|col| weighted_dot(col, y, w)));
    }
}

/// sum_i w_i a_i b_i (w_i = 1 without weights).
pub fn weighted_dot(a: &[f64], b: &[f64], w: Option<&[f64]>) -> f64 {
    match w {
        None => dot(a, b),
        Some(w) => {
            let mut acc = [0.0; 4];
            let (a4, b4, w4) = (a.chunks_exact(4), b.chunks_exact(4), w.chunks_exact(4));
            let tail: f64 =
                a4.remainder().iter().zip(b4.remainder()).zip(w4.remainder()).map(|((x, y), v)| x * y * v).sum();
            for ((x, y), v) in a4.zip(b4).zip(w4) {
                for l in 0..4 {
                    acc[l] += x[l] * y[l] * v[l];
                }
            }
            (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
        }
    }
}

/// Columns of [`gram_schmidt_independent`] handled together: projections on
/// the basis kept so far are matrix products over a block of this many columns.
const RANK_BLOCK: usize = 16;

/// The screen's threshold on a column's squared residual ratio (see
/// [`clearly_full_rank`]): residuals above 1% of the column's norm.
const SCREEN_MIN_PIVOT: f64 = 1e-4;

/// The columns of an n x p matrix (column-major) that are linearly independent
/// of the columns before them, as R's `qr()` with LINPACK's limited pivoting
/// decides (a column is dependent when its residual norm, after projection on
/// the kept columns, is below `tol` times its own norm). A cheap screen
/// settles the usual full-rank case; otherwise Gram-Schmidt decides column by
/// column.
pub fn independent_columns(x: &[f64], n: usize, p: usize, tol: f64) -> Vec<usize> {
    if clearly_full_rank(x, n, p) {
        return (0..p).collect();
    }
    gram_schmidt_independent(x, n, p, tol)
}

/// [`independent_columns`] from the Gram matrix X'X alone (p x p,
/// column-major), for data that never sit in memory: Cholesky with columns
/// skipped whose residual norm, after projection on the columns kept
/// before them, falls below `tol` times their own norm. The same decision
/// as Gram-Schmidt on X, except for columns within about 1e-8 (the square
/// root of the Gram matrix's rounding) of the threshold.
pub fn independent_columns_of_gram(gram: &[f64], p: usize, tol: f64) -> Vec<usize> {
    let mut keep: Vec<usize> = Vec::new();
    // l[t]: the factor's row of kept column t (t off-diagonal values, then the diagonal).
    let mut l: Vec<Vec<f64>> = Vec::with_capacity(p);
    for j in 0..p {
        let norm2 = gram[j * p + j];
        let mut lj = Vec::with_capacity(keep.len() + 1);
        for (t, &i) in keep.iter().enumerate() {
            let lt = &l[t];
            let v = (gram[i * p + j] - (0..t).map(|s| lt[s] * lj[s]).sum::<f64>()) / lt[t];
            lj.push(v);
        }
        let residual2 = norm2 - lj.iter().map(|v| v * v).sum::<f64>();
        if norm2 > 0.0 && residual2 > tol * tol * norm2 {
            lj.push(residual2.sqrt());
            l.push(lj);
            keep.push(j);
        }
    }
    keep
}

/// Is every column far from the span of the columns before it? X'X scaled
/// to a unit diagonal is Cholesky-factored: pivot j is the squared ratio of
/// column j's residual (after projection on columns 0..j) to its norm. When
/// every pivot exceeds [`SCREEN_MIN_PIVOT`] (ratios above 1e-2, 1e5 times R's
/// 1e-7 tolerance, far beyond the Gram matrix's rounding), no column is
/// dependent. Costs one matrix product and a p x p factorization; any doubt
/// (a small pivot, a zero column) leaves the decision to Gram-Schmidt.
fn clearly_full_rank(x: &[f64], n: usize, p: usize) -> bool {
    let mut workspace = WeightedGram::default();
    workspace.compute_gram(x, n, p, None);
    let mut gram = workspace.gram;
    let scale: Vec<f64> = (0..p).map(|j| gram[j * p + j].sqrt()).collect();
    if scale.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
        return false;
    }
    for c in 0..p {
        for r in 0..p {
            gram[c * p + r] /= scale[r] * scale[c];
        }
    }
    if DenseCholesky::new(p).factor(&mut gram).is_err() {
        return false;
    }
    (0..p).all(|j| gram[j * p + j] * gram[j * p + j] > SCREEN_MIN_PIVOT)
}

/// [`independent_columns`] by Gram-Schmidt with reorthogonalisation ("twice
/// is enough", Giraud et al. 2005), blocked: each block of columns is
/// projected off the basis kept before it by two matrix products
/// (B -= Q (Q' B), twice), then its columns are orthogonalised among
/// themselves one by one. About 4 n p^2 flops.
fn gram_schmidt_independent(x: &[f64], n: usize, p: usize, tol: f64) -> Vec<usize> {
    let mut basis: Vec<f64> = Vec::new(); // kept columns, orthonormal, n x keep.len()
    let mut keep = Vec::new();
    let mut coef = Vec::new();
    for start in (0..p).step_by(RANK_BLOCK) {
        let width = RANK_BLOCK.min(p - start);
        let mut block = x[start * n..(start + width) * n].to_vec();
        let norms0: Vec<f64> = block.chunks_exact(n).map(norm2).collect();
        let k = keep.len();
        if k > 0 {
            coef.resize(k * width, 0.0);
            for _ in 0..2 {
                gemm_tn(&mut coef, &basis, &block, n, k, width, 1.0, false);
                gemm_nn(&mut block, &basis, &coef, n, k, width, -1.0, true);
            }
        }
        for (j, r) in block.chunks_exact_mut(n).enumerate() {
            if norms0[j] == 0.0 {
                continue;
            }
            for _ in 0..2 {
                for q in basis[k * n..].chunks_exact(n) {
                    let d = dot(q, r);
                    r.iter_mut().zip(q).for_each(|(v, qv)| *v -= d * qv);
                }
            }
            let norm = norm2(r);
            if norm > tol * norms0[j] {
                basis.extend(r.iter().map(|v| v / norm));
                keep.push(start + j);
            }
        }
    }
    keep
}

/// Euclidean norm.
fn norm2(a: &[f64]) -> f64 {
    dot(a, a).sqrt()
}

/// Dot product with four running sums, which the compiler can keep in SIMD
/// registers (a single sum is a serial dependency chain).
pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0.0; 4];
    let (a4, b4) = (a.chunks_exact(4), b.chunks_exact(4));
    let tail: f64 = a4.remainder().iter().zip(b4.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in a4.zip(b4) {
        for l in 0..4 {
            acc[l] += x[l] * y[l];
        }
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
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

    #[test]
    fn dependent_columns_are_found_across_blocks() {
        // 70 columns over three blocks: powers of a 200-point grid scaled to
        // [0, 1] up to degree 4, then columns that repeat or combine earlier
        // ones (same block, previous block, two blocks back), and zero columns.
        let n = 200;
        let t: Vec<f64> = (0..n).map(|i| i as f64 / (n - 1) as f64).collect();
        let power = |d: i32| t.iter().map(|v| v.powi(d)).collect::<Vec<f64>>();
        let wave = |k: usize| t.iter().map(|v| (v * (k as f64 + 1.0) * 3.1).sin()).collect::<Vec<f64>>();
        let mut cols: Vec<Vec<f64>> = (0..5).map(power).collect();
        for k in 0..65 {
            cols.push(match k {
                10 => cols[3].iter().zip(&cols[1]).map(|(a, b)| 2.0 * a - b).collect(),
                30 => vec![0.0; n],
                40 => cols[20].clone(),
                60 => cols[2].iter().zip(&cols[45]).map(|(a, b)| a + 0.5 * b).collect(),
                _ => wave(k),
            });
        }
        let x: Vec<f64> = cols.concat();
        let dependent = [15, 35, 45, 65];
        let expected: Vec<usize> = (0..70).filter(|j| !dependent.contains(j)).collect();
        // 15 combines 1 and 3 (same block), 35 is zero, 45 repeats 20 (previous
        // block), 65 combines 2 and 45 (two blocks back and previous).
        assert_eq!(independent_columns(&x, n, 70, 1e-7), expected);
        // Dependent columns (and these nearly collinear powers) are left to Gram-Schmidt.
        assert!(!clearly_full_rank(&x, n, 70));
    }

    #[test]
    fn the_screen_settles_a_well_conditioned_design() {
        // An intercept, a factor of 40 levels in treatment coding and a covariate:
        // the screen keeps every column, as Gram-Schmidt does; one repeated column
        // sends the decision to Gram-Schmidt, which drops it.
        let n = 400;
        let mut cols: Vec<Vec<f64>> = vec![vec![1.0; n]];
        cols.extend((1..40).map(|k| (0..n).map(|i| f64::from(u8::from(i % 40 == k))).collect()));
        cols.push((0..n).map(|i| ((i * 37) % 101) as f64 / 101.0).collect());
        let x: Vec<f64> = cols.concat();
        let p = cols.len();
        assert!(clearly_full_rank(&x, n, p));
        assert_eq!(independent_columns(&x, n, p, 1e-7), (0..p).collect::<Vec<_>>());
        assert_eq!(gram_schmidt_independent(&x, n, p, 1e-7), (0..p).collect::<Vec<_>>());
        let mut with_copy = x.clone();
        with_copy.extend_from_slice(&cols[7]);
        assert!(!clearly_full_rank(&with_copy, n, p + 1));
        assert_eq!(independent_columns(&with_copy, n, p + 1, 1e-7), (0..p).collect::<Vec<_>>());
    }
}
