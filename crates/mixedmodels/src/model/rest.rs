//! The rest block S = Lambda_R' Z_R'Z_R Lambda_R + I - L21 L21' (the
//! random-effects terms after the first, with the first term eliminated) and
//! its Cholesky factorization: dense where the elimination fills it in
//! (crossed factors such as InstEval's lecturers), sparse with a
//! fill-reducing ordering computed once where it does not (large nested or
//! sparsely crossed factors). Either way the caller assembles S column by
//! column into [`RestFactor::values_mut`], factors, and solves with S.

use std::sync::Arc;

use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::cholesky::llt::factor::LltRegularization;
use faer::sparse::linalg::cholesky::{
    factorize_symbolic_cholesky, supernodal::SupernodalLltRef, CholeskySymbolicParams, LltRef, SymbolicCholesky,
    SymbolicCholeskyRaw, SymmetricOrdering,
};
use faer::sparse::{SparseColMatRef, SymbolicSparseColMatRef};
use faer::{Conj, MatMut, Par, Side};

use crate::linalg::{self, DenseCholesky};

/// Below this size the rest is always dense.
const DENSE_ALWAYS: usize = 64;
/// Dense storage is used when the factor would fill at least this share of
/// the lower triangle (and the dense matrix fits comfortably in memory).
const DENSE_FILL: f64 = 0.2;
const DENSE_MAX: usize = 20_000;

/// Where the entries of S live.
#[derive(Debug, Clone)]
pub enum RestPattern {
    /// m x m, column-major; the lower triangle is used.
    Dense { m: usize },
    /// Lower triangle in compressed columns (rows ascending, diagonal first),
    /// with the symbolic factorization (fill-reducing ordering) done once.
    Sparse { m: usize, col_ptr: Vec<usize>, row_idx: Vec<usize>, symbolic: Arc<SymbolicCholesky<usize>> },
}

impl RestPattern {
    /// Choose dense or sparse storage for the lower-triangular pattern given by
    /// its columns (`columns[c]` = rows >= c holding nonzeros, including c).
    pub fn choose(m: usize, columns: Vec<Vec<usize>>) -> RestPattern {
        if m <= DENSE_ALWAYS {
            return RestPattern::Dense { m };
        }
        let Some(sparse) = Self::sparse(m, columns, CholeskySymbolicParams::default()) else {
            return RestPattern::Dense { m };
        };
        let full = (m * (m + 1) / 2) as f64;
        match &sparse {
            RestPattern::Sparse { symbolic, .. }
                if m <= DENSE_MAX && symbolic.len_val() as f64 >= DENSE_FILL * full =>
            {
                RestPattern::Dense { m }
            }
            _ => sparse,
        }
    }

    /// Sparse storage with the symbolic factorization under `params`; None
    /// if the pattern cannot be analysed.
    pub(crate) fn sparse(m: usize, columns: Vec<Vec<usize>>, params: CholeskySymbolicParams) -> Option<RestPattern> {
        let mut col_ptr = Vec::with_capacity(m + 1);
        let mut row_idx = Vec::new();
        col_ptr.push(0);
        for mut rows in columns {
            rows.sort_unstable();
            rows.dedup();
            row_idx.extend(rows);
            col_ptr.push(row_idx.len());
        }
        let pattern = SymbolicSparseColMatRef::new_checked(m, m, &col_ptr, None, &row_idx);
        let symbolic = factorize_symbolic_cholesky(pattern, Side::Lower, SymmetricOrdering::Amd, params).ok()?;
        Some(RestPattern::Sparse { m, col_ptr, row_idx, symbolic: Arc::new(symbolic) })
    }

    pub fn m(&self) -> usize {
        match self {
            RestPattern::Dense { m } | RestPattern::Sparse { m, .. } => *m,
        }
    }

    pub fn is_dense(&self) -> bool {
        matches!(self, RestPattern::Dense { .. })
    }

    /// Number of stored values.
    pub fn len(&self) -> usize {
        match self {
            RestPattern::Dense { m } => m * m,
            RestPattern::Sparse { row_idx, .. } => row_idx.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Position of entry (row, col), row >= col, in the value storage.
    pub fn position(&self, row: usize, col: usize) -> Option<usize> {
        match self {
            RestPattern::Dense { m } => Some(col * m + row),
            RestPattern::Sparse { col_ptr, row_idx, .. } => {
                let rows = &row_idx[col_ptr[col]..col_ptr[col + 1]];
                rows.binary_search(&row).ok().map(|i| col_ptr[col] + i)
            }
        }
    }
}

/// S's values and factor for one theta.
pub struct RestFactor {
    pattern: RestPattern,
    /// S (dense: factored in place into L).
    values: Vec<f64>,
    sparse: Option<SparseParts>,
    dense_chol: Option<DenseCholesky>,
}

struct SparseParts {
    l_values: Vec<f64>,
    factor_scratch: MemBuffer,
    solve_scratch: MemBuffer,
    solve_cols: usize,
}

impl RestFactor {
    /// `max_rhs`: the most right-hand sides a solve will get.
    pub fn new(pattern: &RestPattern, max_rhs: usize) -> Self {
        let values = vec![0.0; pattern.len()];
        match pattern {
            RestPattern::Dense { m } => {
                RestFactor { pattern: pattern.clone(), values, sparse: None, dense_chol: Some(DenseCholesky::new(*m)) }
            }
            RestPattern::Sparse { symbolic, .. } => {
                let par = Par::Seq;
                let factor_scratch =
                    MemBuffer::new(symbolic.factorize_numeric_llt_scratch::<f64>(par, Default::default()));
                let solve_cols = max_rhs.max(1);
                let solve_scratch = MemBuffer::new(symbolic.solve_in_place_scratch::<f64>(solve_cols, par));
                RestFactor {
                    pattern: pattern.clone(),
                    values,
                    sparse: Some(SparseParts {
                        l_values: vec![0.0; symbolic.len_val()],
                        factor_scratch,
                        solve_scratch,
                        solve_cols,
                    }),
                    dense_chol: None,
                }
            }
        }
    }

    pub fn pattern(&self) -> &RestPattern {
        &self.pattern
    }

    /// Storage to assemble S's lower triangle into (layout of the pattern).
    pub fn values_mut(&mut self) -> &mut [f64] {
        &mut self.values
    }

    pub fn values(&self) -> &[f64] {
        &self.values
    }

    /// The sparse factor's values (faer's layout for the pattern's symbolic
    /// factorization); None for dense storage, whose factor is in [`Self::values`].
    pub fn sparse_factor_values(&self) -> Option<&[f64]> {
        self.sparse.as_ref().map(|sp| sp.l_values.as_slice())
    }

    /// Factor S; false if it is not numerically positive definite.
    pub fn factor(&mut self) -> bool {
        match &self.pattern {
            RestPattern::Dense { .. } => self.dense_chol.as_mut().is_some_and(|c| c.factor(&mut self.values).is_ok()),
            RestPattern::Sparse { m, col_ptr, row_idx, symbolic } => {
                let Some(sp) = self.sparse.as_mut() else { return false };
                let a = SparseColMatRef::new(
                    SymbolicSparseColMatRef::new_checked(*m, *m, col_ptr, None, row_idx),
                    &self.values,
                );
                let stack = MemStack::new(&mut sp.factor_scratch);
                symbolic
                    .factorize_numeric_llt(
                        &mut sp.l_values,
                        a,
                        Side::Lower,
                        LltRegularization::default(),
                        Par::Seq,
                        stack,
                        Default::default(),
                    )
                    .is_ok()
            }
        }
    }

    /// log det(S) from the factor's diagonal.
    pub fn logdet(&self) -> f64 {
        match &self.pattern {
            RestPattern::Dense { m } => 2.0 * (0..*m).map(|d| self.values[d * m + d].ln()).sum::<f64>(),
            RestPattern::Sparse { symbolic, .. } => {
                let Some(sp) = &self.sparse else { return f64::NAN };
                let total: f64 = match symbolic.raw() {
                    // Each supernode's leading square block is lower triangular with L's diagonal.
                    SymbolicCholeskyRaw::Supernodal(sym) => {
                        let l = SupernodalLltRef::<usize, f64>::new(sym, &sp.l_values);
                        (0..sym.n_supernodes())
                            .map(|s| {
                                let block = l.supernode(s).val();
                                (0..block.ncols()).map(|d| block[(d, d)].ln()).sum::<f64>()
                            })
                            .sum()
                    }
                    // A simplicial factor stores each column's diagonal first.
                    SymbolicCholeskyRaw::Simplicial(sym) => {
                        let ptr = sym.col_ptr();
                        (0..sym.ncols()).map(|j| sp.l_values[ptr[j]].ln()).sum()
                    }
                };
                2.0 * total
            }
        }
    }

    /// T' S^{-1} T (k x k) for T (m x k); `scratch` holds m x k values. Dense
    /// storage solves once with L (Y = L^{-1} T, Y'Y), sparse solves with S.
    pub fn quadratic_form(&mut self, t: &[f64], k: usize, scratch: &mut [f64], out: &mut [f64]) {
        let m = self.pattern.m();
        scratch.copy_from_slice(t);
        if self.pattern.is_dense() {
            linalg::solve_lower(&self.values, m, scratch, k);
            linalg::gemm_tn(out, scratch, scratch, m, k, k, 1.0, false);
        } else {
            self.solve(scratch, k);
            linalg::gemm_tn(out, t, scratch, m, k, k, 1.0, false);
        }
    }

    /// rhs <- S^{-1} rhs, allocating its own scratch (for use outside the optimizer loop).
    pub fn solve_fresh(&self, rhs: &mut [f64], k: usize) {
        let m = self.pattern.m();
        if m == 0 || k == 0 {
            return;
        }
        match &self.pattern {
            RestPattern::Dense { .. } => {
                linalg::solve_lower(&self.values, m, rhs, k);
                linalg::solve_lower_transpose(&self.values, m, rhs, k);
            }
            RestPattern::Sparse { symbolic, .. } => {
                let Some(sp) = self.sparse.as_ref() else { return };
                let mut scratch = MemBuffer::new(symbolic.solve_in_place_scratch::<f64>(k, Par::Seq));
                let llt = LltRef::<usize, f64>::new(symbolic, &sp.l_values);
                let stack = MemStack::new(&mut scratch);
                llt.solve_in_place_with_conj(Conj::No, MatMut::from_column_major_slice_mut(rhs, m, k), Par::Seq, stack);
            }
        }
    }

    /// rhs <- S^{-1} rhs (m x k, column-major).
    pub fn solve(&mut self, rhs: &mut [f64], k: usize) {
        let m = self.pattern.m();
        if m == 0 || k == 0 {
            return;
        }
        match &self.pattern {
            RestPattern::Dense { .. } => {
                linalg::solve_lower(&self.values, m, rhs, k);
                linalg::solve_lower_transpose(&self.values, m, rhs, k);
            }
            RestPattern::Sparse { symbolic, .. } => {
                let Some(sp) = self.sparse.as_mut() else { return };
                if k > sp.solve_cols {
                    sp.solve_scratch = MemBuffer::new(symbolic.solve_in_place_scratch::<f64>(k, Par::Seq));
                    sp.solve_cols = k;
                }
                let llt = LltRef::<usize, f64>::new(symbolic, &sp.l_values);
                let stack = MemStack::new(&mut sp.solve_scratch);
                llt.solve_in_place_with_conj(Conj::No, MatMut::from_column_major_slice_mut(rhs, m, k), Par::Seq, stack);
            }
        }
    }

    /// S^{-1} in full when S is stored dense (None for sparse storage).
    pub fn dense_inverse(&self) -> Option<Vec<f64>> {
        let m = self.pattern.m();
        match &self.pattern {
            RestPattern::Dense { .. } => {
                let mut l = self.values.clone();
                for c in 0..m {
                    for r in 0..c {
                        l[c * m + r] = 0.0;
                    }
                }
                linalg::invert_lower_in_place(&mut l, m);
                let mut inv = vec![0.0; m * m];
                linalg::gemm_tn(&mut inv, &l, &l, m, m, m, 1.0, false);
                Some(inv)
            }
            RestPattern::Sparse { .. } => None,
        }
    }
}
