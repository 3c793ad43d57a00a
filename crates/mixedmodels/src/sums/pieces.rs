//! The per-group pieces of the reduced statistics: what deleting a whole
//! level of a grouping factor subtracts from the cross-products, summed in
//! the same pass as the fit's sums (no second pass over the rows).
//!
//! Deleting level g of factor F removes the rows R_g. Every block of the
//! cross-products that involves level g of a term of F is made of R_g's
//! rows only, so its share is the block itself. What the fit's sums do not
//! hold is the rest of R_g's share:
//!
//! - R_g's [X y]'W[X y], count and sum of log weights: per level of each
//!   bar, sum w c c' (and unweighted, for the prediction errors of a
//!   weighted fit), the count and sum log w ("level pieces", appended to
//!   the bar's table);
//! - for a term of another factor, its own blocks over R_g: per pair of
//!   levels (a, b) of two bars, sum w z_a z_a' and sum w z_a c' over the
//!   pair's rows, and the same for b ("cell pieces", appended to the pair's
//!   table).
//!
//! - for two terms of other factors, their block over R_g: sums over triples
//!   of levels ("triple pieces", [`super::triples`]: tables of their own, or
//!   after the cell pieces of a pair table when the two terms share a factor).
//!
//! Engines compute the widened tables and the triple tables as they compute
//! any table (the plan lists the products); the pieces are split from the
//! fit's sums on arrival.

use super::plan::{lower_index, Layout, Product, SumsPlan};
use super::triples::TripleSums;

/// The per-group pieces as they arrive: per bar, the level pieces of each
/// level (level-major); per pair table, the cell pieces of each of its
/// levels (in the order of `PairSums::levels`); per triple table
/// ([`SumsPlan::triples`]), its sums.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PieceSums {
    pub terms: Vec<Vec<f64>>,
    pub pairs: Vec<Vec<f64>>,
    pub triples: Vec<TripleSums>,
}

fn tri(q: usize) -> usize {
    q * (q + 1) / 2
}

impl Layout {
    /// Values of the weighted Gram of c (its lower triangle).
    fn gram_values(&self) -> usize {
        tri(self.k())
    }

    /// Level pieces a level (0 without pieces): the count, sum w c c', and
    /// for a weighted fit the unweighted sum c c' and sum log w.
    pub fn level_piece_width(&self) -> usize {
        if !self.group_pieces {
            return 0;
        }
        1 + self.gram_values() + if self.weighted() { self.gram_values() + 1 } else { 0 }
    }

    /// Position of the (unweighted) count among a level's pieces.
    pub fn piece_count(&self) -> usize {
        0
    }

    /// Position of sum w c_i c_j (i >= j) among a level's pieces.
    pub fn piece_gram(&self, i: usize, j: usize) -> usize {
        1 + lower_index(self.k(), i, j)
    }

    /// Position of the unweighted sum c_i c_j (the weighted one without weights).
    pub fn piece_unweighted_gram(&self, i: usize, j: usize) -> usize {
        if self.weighted() {
            1 + self.gram_values() + lower_index(self.k(), i, j)
        } else {
            self.piece_gram(i, j)
        }
    }

    /// Position of sum log w among a level's pieces (weighted fits).
    pub fn piece_log_weight(&self) -> Option<usize> {
        self.weighted().then(|| 1 + 2 * self.gram_values())
    }

    /// Values one side (bar `x`) of a cell's pieces takes: sum w z z' and sum w z c'.
    fn side_width(&self, x: usize) -> usize {
        tri(self.q[x]) + self.q[x] * self.k()
    }

    /// Cell pieces a pair of levels of bars (a, b) (0 without pieces).
    pub fn cell_piece_width(&self, a: usize, b: usize) -> usize {
        if self.group_pieces {
            self.side_width(a) + self.side_width(b)
        } else {
            0
        }
    }

    /// First position of side `x` (a or b) of a cell's pieces.
    fn side_start(&self, a: usize, x: usize) -> usize {
        if x == a {
            0
        } else {
            self.side_width(a)
        }
    }

    /// Position of sum w z_{x,r} z_{x,c} (r >= c) over a cell of pair (a, b), x one of a, b.
    pub fn cell_zz(&self, a: usize, x: usize, r: usize, c: usize) -> usize {
        self.side_start(a, x) + lower_index(self.q[x], r, c)
    }

    /// Position of sum w z_{x,r} c_i over a cell of pair (a, b), x one of a, b.
    pub fn cell_zc(&self, a: usize, x: usize, r: usize, i: usize) -> usize {
        self.side_start(a, x) + tri(self.q[x]) + i * self.q[x] + r
    }

    fn c_columns(&self, i: usize) -> Vec<usize> {
        self.c_column(i).into_iter().collect()
    }

    /// The level pieces' products, in their positions' order.
    pub fn level_piece_products(&self) -> Vec<Product> {
        let mut out = vec![Product { columns: vec![], weighted: false }; self.level_piece_width()];
        if out.is_empty() {
            return out;
        }
        for j in 0..self.k() {
            for i in j..self.k() {
                let columns: Vec<usize> = self.c_columns(i).into_iter().chain(self.c_columns(j)).collect();
                out[self.piece_gram(i, j)] = Product { columns: columns.clone(), weighted: true };
                if self.weighted() {
                    out[self.piece_unweighted_gram(i, j)] = Product { columns, weighted: false };
                }
            }
        }
        if let (Some(pos), Some(col)) = (self.piece_log_weight(), self.log_weight) {
            out[pos] = Product { columns: vec![col], weighted: false };
        }
        out
    }

    /// The cell pieces' products of pair (a, b), in their positions' order.
    pub fn cell_piece_products(&self, a: usize, b: usize) -> Vec<Product> {
        let mut out = vec![Product { columns: vec![], weighted: false }; self.cell_piece_width(a, b)];
        if out.is_empty() {
            return out;
        }
        for x in [a, b] {
            let z = |r: usize| self.z_offset[x] + r;
            for c in 0..self.q[x] {
                for r in c..self.q[x] {
                    out[self.cell_zz(a, x, r, c)] = Product { columns: vec![z(r), z(c)], weighted: true };
                }
            }
            for i in 0..self.k() {
                for r in 0..self.q[x] {
                    let columns: Vec<usize> = std::iter::once(z(r)).chain(self.c_columns(i)).collect();
                    out[self.cell_zc(a, x, r, i)] = Product { columns, weighted: true };
                }
            }
        }
        out
    }
}

impl SumsPlan {
    /// The same plan whose pass also sums the per-group pieces (the bars'
    /// and the pairs' tables widened), so that whole groups can be deleted
    /// from the fit: `influence(level=g)`, `cross_validate(group=g)`.
    pub fn with_group_pieces(&self) -> SumsPlan {
        let mut plan = self.clone();
        if plan.layout.group_pieces {
            return plan;
        }
        plan.layout.group_pieces = true;
        let layout = plan.layout.clone();
        for b in 0..plan.nbars() {
            plan.tables[b].sums.extend(layout.level_piece_products());
        }
        let triples = plan.triples();
        for (p, (a, b)) in plan.pairs().into_iter().enumerate() {
            let t = plan.pair_table(a, b);
            let hosted: Vec<Product> =
                plan.hosted_by(p).into_iter().flat_map(|i| layout.pair_products(triples[i].b, triples[i].c)).collect();
            plan.tables[t].sums.extend(layout.cell_piece_products(a, b));
            plan.tables[t].sums.extend(hosted);
        }
        // The other triples' tables go between the pair tables and the global row.
        let global = plan.tables.pop().expect("the global row");
        let own: Vec<_> = plan.triple_tables().iter().map(|members| plan.triple_spec(members)).collect();
        plan.tables.extend(own);
        plan.tables.push(global);
        plan
    }

    /// Bytes the per-group pieces add to the reduced statistics, for `n`
    /// complete rows (each pair table at most min(l_a l_b, n) cells, each
    /// triple table at most `triple_bound` triples).
    pub fn group_pieces_bytes(&self, n: usize) -> f64 {
        let mut layout = self.layout.clone();
        layout.group_pieces = true;
        let levels: Vec<f64> = self.spec.groups.iter().map(|g| g.levels.len() as f64).collect();
        let terms: f64 = levels.iter().map(|l| l * layout.level_piece_width() as f64).sum();
        let pairs: f64 = self
            .pairs()
            .into_iter()
            .map(|(a, b)| (levels[a] * levels[b]).min(n as f64) * layout.cell_piece_width(a, b) as f64)
            .sum();
        // Triple tables: q_b q_c values and three keys a triple present (bounded, see `triple_bound`).
        let triples: f64 = self
            .all_triples()
            .into_iter()
            .map(|t| self.triple_bound(t, n) * (layout.q[t.b] * layout.q[t.c] + 3) as f64)
            .sum();
        // Summed (pass), split (stats) and kept (the model): about three copies.
        3.0 * 8.0 * (terms + pairs + triples)
    }
}

/// Row-major rows of `base + extra` values split into the first `base` and
/// the last `extra` of each row (no copy without extras).
pub fn split_rows(values: Vec<f64>, base: usize, extra: usize) -> (Vec<f64>, Vec<f64>) {
    if extra == 0 {
        return (values, vec![]);
    }
    let width = base + extra;
    let rows = values.len() / width;
    let mut head = Vec::with_capacity(rows * base);
    let mut tail = Vec::with_capacity(rows * extra);
    for row in values.chunks_exact(width) {
        head.extend_from_slice(&row[..base]);
        tail.extend_from_slice(&row[base..]);
    }
    (head, tail)
}
