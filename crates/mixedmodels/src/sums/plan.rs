//! The plan of an out-of-core pass: which columns an engine evaluates on
//! every row ("basic" columns: the random-effects columns of each bar, the
//! fixed-effects columns and the response, each centred by a pilot mean,
//! the weights and the checks) and which sums of their products it reduces
//! them to, table by table:
//!
//! - one table a random-effects bar, keyed by its grouping columns:
//!   sum w z z' and sum w z c' with c = [1, x - x_pilot, y - y_pilot];
//! - one table a pair of bars, keyed by both bars' grouping columns:
//!   sum w z_a z_b' (the blocks of Z'WZ between two terms);
//! - one global row: sum w c c', the count, sum log w and the checks.
//!
//! The same layout reads the sums back ([`super::assemble`]), so the two
//! sides agree by construction.

use std::sync::Arc;

use super::expr::{BinaryOp, ColumnExpr};
use crate::data::DataFrame;
use crate::design::DesignSpec;

/// A sum of the reduced statistics: the product of some basic columns (none:
/// the constant 1), times the prior weight when `weighted`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    pub columns: Vec<usize>,
    pub weighted: bool,
}

/// One table of sums: grouped by `keys` (data columns; none for the global row).
#[derive(Debug, Clone, PartialEq)]
pub struct TableSpec {
    pub keys: Vec<String>,
    pub sums: Vec<Product>,
}

/// Where everything sits among the basic columns and in each table's row.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    /// Random effects a level of each bar (formula order).
    pub q: Vec<usize>,
    /// The first basic column of each bar's random-effects columns.
    pub z_offset: Vec<usize>,
    /// Fixed-effects columns of the full X (before the rank check).
    pub nx: usize,
    pub x_first: usize,
    pub y: usize,
    pub weight: Option<usize>,
    pub log_weight: Option<usize>,
    /// Rows whose response is not finite.
    pub bad_y: usize,
    /// Rows whose prior weight is not positive and finite.
    pub bad_weight: Option<usize>,
    /// Bars whose only column is the intercept (the moment start reads their
    /// unweighted sums of a weighted fit).
    pub intercept_only: Vec<bool>,
    /// Do the tables also sum the per-group pieces ([`super::pieces`])?
    pub group_pieces: bool,
}

impl Layout {
    /// Columns of c = [1, x - x_pilot, y - y_pilot].
    pub fn k(&self) -> usize {
        self.nx + 2
    }

    /// The basic column of c's column `i` (None for the constant 1).
    pub fn c_column(&self, i: usize) -> Option<usize> {
        match i {
            0 => None,
            i if i <= self.nx => Some(self.x_first + i - 1),
            _ => Some(self.y),
        }
    }

    pub fn weighted(&self) -> bool {
        self.weight.is_some()
    }

    fn unweighted_extra(&self, b: usize) -> bool {
        self.weighted() && self.intercept_only[b]
    }

    /// Values a level in bar `b`'s table: sum w z z' (lower triangle,
    /// column by column), sum w z c' (q x k, column-major), and for an
    /// intercept-only bar of a weighted fit the unweighted sum c (k values).
    pub fn term_width(&self, b: usize) -> usize {
        let q = self.q[b];
        q * (q + 1) / 2 + q * self.k() + if self.unweighted_extra(b) { self.k() } else { 0 }
    }

    /// Position of sum w z_r z_c (r >= c) in a level's values.
    pub fn term_zz(&self, b: usize, r: usize, c: usize) -> usize {
        lower_index(self.q[b], r, c)
    }

    /// Position of sum w z_r c_i in a level's values.
    pub fn term_zc(&self, b: usize, r: usize, i: usize) -> usize {
        let q = self.q[b];
        q * (q + 1) / 2 + i * q + r
    }

    /// Position of the unweighted sum c_i (i = 0: the count) in a level's values.
    pub fn term_unweighted(&self, b: usize, i: usize) -> Option<usize> {
        let q = self.q[b];
        self.unweighted_extra(b).then(|| q * (q + 1) / 2 + q * self.k() + i)
    }

    /// Position of sum w z_{a,i} z_{b,j} in a pair's values (qa x qb, column-major).
    pub fn pair_index(&self, a: usize, i: usize, j: usize) -> usize {
        j * self.q[a] + i
    }

    /// The global row: the count, sum w c c' (lower triangle, column by
    /// column), then sum log w and the unweighted sum c c' of a weighted fit,
    /// then the checks.
    pub fn global_count(&self) -> usize {
        0
    }

    /// Position of sum w c_i c_j (i >= j).
    pub fn global_gram(&self, i: usize, j: usize) -> usize {
        1 + lower_index(self.k(), i, j)
    }

    fn gram_len(&self) -> usize {
        self.k() * (self.k() + 1) / 2
    }

    pub fn global_log_weight(&self) -> Option<usize> {
        self.weighted().then(|| 1 + self.gram_len())
    }

    /// Position of the unweighted sum c_i c_j (a weighted fit's; else the weighted one).
    pub fn global_unweighted_gram(&self, i: usize, j: usize) -> usize {
        if self.weighted() {
            2 + self.gram_len() + lower_index(self.k(), i, j)
        } else {
            self.global_gram(i, j)
        }
    }

    pub fn global_bad_y(&self) -> usize {
        1 + self.gram_len() + if self.weighted() { 1 + self.gram_len() } else { 0 }
    }

    pub fn global_bad_weight(&self) -> Option<usize> {
        self.weighted().then(|| self.global_bad_y() + 1)
    }

    pub fn global_width(&self) -> usize {
        self.global_bad_y() + 1 + usize::from(self.weighted())
    }

    /// The sums of bar `b`'s table, in the order of [`Layout::term_width`].
    pub fn term_products(&self, b: usize) -> Vec<Product> {
        let q = self.q[b];
        let z = |r: usize| self.z_offset[b] + r;
        let mut out = vec![Product { columns: vec![], weighted: false }; self.term_width(b)];
        for c in 0..q {
            for r in c..q {
                out[self.term_zz(b, r, c)] = Product { columns: vec![z(r), z(c)], weighted: true };
            }
        }
        for i in 0..self.k() {
            for r in 0..q {
                let mut columns = vec![z(r)];
                columns.extend(self.c_column(i));
                out[self.term_zc(b, r, i)] = Product { columns, weighted: true };
            }
            if let Some(pos) = self.term_unweighted(b, i) {
                out[pos] = Product { columns: self.c_column(i).into_iter().collect(), weighted: false };
            }
        }
        out
    }

    /// The sums of the pair of bars (a, b).
    pub fn pair_products(&self, a: usize, b: usize) -> Vec<Product> {
        let mut out = Vec::with_capacity(self.q[a] * self.q[b]);
        for j in 0..self.q[b] {
            for i in 0..self.q[a] {
                out.push(Product { columns: vec![self.z_offset[a] + i, self.z_offset[b] + j], weighted: true });
            }
        }
        out
    }

    /// The sums of the global row, in the order of its positions.
    pub fn global_products(&self) -> Vec<Product> {
        let mut out = vec![Product { columns: vec![], weighted: false }; self.global_width()];
        let c = |i: usize| self.c_column(i).into_iter().collect::<Vec<_>>();
        for j in 0..self.k() {
            for i in j..self.k() {
                let columns: Vec<usize> = c(i).into_iter().chain(c(j)).collect();
                out[self.global_gram(i, j)] = Product { columns: columns.clone(), weighted: true };
                if self.weighted() {
                    out[self.global_unweighted_gram(i, j)] = Product { columns, weighted: false };
                }
            }
        }
        if let (Some(pos), Some(col)) = (self.global_log_weight(), self.log_weight) {
            out[pos] = Product { columns: vec![col], weighted: false };
        }
        out[self.global_bad_y()] = Product { columns: vec![self.bad_y], weighted: false };
        if let (Some(pos), Some(col)) = (self.global_bad_weight(), self.bad_weight) {
            out[pos] = Product { columns: vec![col], weighted: false };
        }
        out
    }
}

/// Position of (i, j), i >= j, in a k x k lower triangle stored column by column.
pub fn lower_index(k: usize, i: usize, j: usize) -> usize {
    debug_assert!(i >= j && i < k);
    // Column j starts after columns 0..j, of k, k - 1, ... values.
    j * (2 * k - j + 1) / 2 + (i - j)
}

/// Everything a pass and the fit after it need: the learned design, the
/// basic columns, the tables and the distinct tables the lookups refer to.
#[derive(Debug, Clone)]
pub struct SumsPlan {
    pub spec: DesignSpec,
    /// The full X's columns, uncentred (predictions read them).
    pub x_exprs: Vec<ColumnExpr>,
    /// Each bar's random-effects columns (formula order).
    pub z_exprs: Vec<Vec<ColumnExpr>>,
    /// The response and the sum of the formula's offsets.
    pub response_expr: ColumnExpr,
    pub offset_expr: Option<ColumnExpr>,
    /// Names and assignments of the full X's columns (before the rank check).
    pub x_names: Vec<String>,
    pub x_assign: Vec<usize>,
    pub layout: Layout,
    /// The basic columns: a name each and the expression that computes it.
    pub basic: Vec<(String, ColumnExpr)>,
    /// Bar tables (formula order), then pair tables ((0, 1), (0, 2), ..., (1, 2), ...), then the global row.
    pub tables: Vec<TableSpec>,
    /// The distinct rows of the data columns each lookup or grouping reads.
    pub distinct: Arc<Vec<DataFrame<'static>>>,
    /// The distinct table of each bar's grouping columns.
    pub bar_table: Vec<usize>,
    /// Pilot means subtracted from X's columns and the response.
    pub x_centre: Vec<f64>,
    pub y_centre: f64,
    /// Rows of the data, and rows without missing values in the model's columns.
    pub n_rows: usize,
    pub n_complete: usize,
}

impl SumsPlan {
    pub fn nbars(&self) -> usize {
        self.layout.q.len()
    }

    /// The bar pairs (a, b), a < b, in the order of their tables.
    pub fn pairs(&self) -> Vec<(usize, usize)> {
        let nb = self.nbars();
        (0..nb).flat_map(|a| (a + 1..nb).map(move |b| (a, b))).collect()
    }

    /// Index into `tables` of the pair (a, b), a < b.
    pub fn pair_table(&self, a: usize, b: usize) -> usize {
        let position = self.pairs().iter().position(|&p| p == (a, b)).expect("a < b, both bars");
        self.nbars() + position
    }

    pub fn global_table(&self) -> usize {
        self.tables.len() - 1
    }

    /// X beta + the offsets, as one expression: `beta[t]` multiplies the
    /// full X's column `keep[t]` (the columns a fit kept).
    pub fn fixed_predictor(&self, keep: &[usize], beta: &[f64]) -> ColumnExpr {
        let mut terms: Vec<ColumnExpr> = keep
            .iter()
            .zip(beta)
            .map(|(&j, &b)| ColumnExpr::binary(BinaryOp::Mul, self.x_exprs[j].clone(), ColumnExpr::Number(b)))
            .collect();
        terms.extend(self.offset_expr.clone());
        terms.into_iter().reduce(|a, b| ColumnExpr::binary(BinaryOp::Add, a, b)).unwrap_or(ColumnExpr::Number(0.0))
    }

    /// The level of each row of bar `b`'s distinct table (its grouping columns' distinct rows).
    pub fn bar_levels(&self, b: usize) -> crate::error::Result<Vec<u32>> {
        self.spec.groups[b].refs(&self.distinct[self.bar_table[b]])
    }
}
