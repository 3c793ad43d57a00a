//! The triple pieces: what deleting a level of factor F needs when two or
//! more random-effects terms belong to other factors.
//!
//! Deleting level g of F removes the rows R_g. For two terms b and c of
//! other factors than F, the block Z_b'W Z_c of the cross-products loses, at
//! each pair of their levels (l_b, l_c), the sum over the rows of R_g in
//! (l_b, l_c): sum w z_b z_c' over the rows of the triple (g, l_b, l_c).
//! These are neither per-level nor per-pair sums of the fit, so the pass
//! forms them as tables of their own, one a (factor F, pair of bars b < c
//! of other factors), keyed by the grouping columns of F, b and c together
//! (each column once). When b and c belong to the same factor (`(x || g2)`)
//! their levels coincide and the table is keyed by F's and that factor's
//! columns: it has the rows of the pair table of F and b.
//!
//! F is represented by its first bar (formula order): every bar of F has
//! the same grouping columns and levels. Engines compute these tables as
//! they compute any table of the plan; they come only with the per-group
//! pieces ([`super::pieces`]).

use super::plan::{SumsPlan, TableSpec};

/// A triple table: the first bar `f` of the deleted factor and two bars
/// `b < c` of other factors (not necessarily different from each other).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Triple {
    pub f: usize,
    pub b: usize,
    pub c: usize,
}

/// Sums over the rows of each triple of levels present, like `PairSums`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TripleSums {
    /// (level of f, level of b, level of c), ascending, each once.
    pub levels: Vec<(u32, u32, u32)>,
    /// q_b q_c values each (sum w z_b z_c', column-major), in the order of `levels`.
    pub values: Vec<f64>,
}

impl SumsPlan {
    fn group_of(&self, bar: usize) -> &str {
        &self.spec.formula.bars[bar].group_name
    }

    /// The first bar (formula order) of each grouping factor, in the order of their first bars.
    fn factor_bars(&self) -> Vec<usize> {
        (0..self.nbars()).filter(|&f| (0..f).all(|e| self.group_of(e) != self.group_of(f))).collect()
    }

    /// Every triple a deletion may need (for each factor, each pair of bars
    /// of other factors), whether or not the plan sums them.
    pub fn all_triples(&self) -> Vec<Triple> {
        let mut out = Vec::new();
        for f in self.factor_bars() {
            let other: Vec<usize> = (0..self.nbars()).filter(|&b| self.group_of(b) != self.group_of(f)).collect();
            for (i, &b) in other.iter().enumerate() {
                out.extend(other[i + 1..].iter().map(|&c| Triple { f, b, c }));
            }
        }
        out
    }

    /// The triple tables the plan sums (none without the per-group pieces),
    /// in the order of their tables, which follow the pair tables.
    pub fn triples(&self) -> Vec<Triple> {
        if self.layout.group_pieces {
            self.all_triples()
        } else {
            vec![]
        }
    }

    /// Index into `tables` of the i-th triple table.
    pub fn triple_table(&self, i: usize) -> usize {
        self.nbars() + self.pairs().len() + i
    }

    /// The table of a triple: the three bars' grouping columns, each once,
    /// and the products of b's and c's random-effects columns.
    pub(crate) fn triple_spec(&self, t: Triple) -> TableSpec {
        let mut keys: Vec<String> = Vec::new();
        for bar in [t.f, t.b, t.c] {
            for k in &self.tables[bar].keys {
                if !keys.contains(k) {
                    keys.push(k.clone());
                }
            }
        }
        TableSpec { keys, sums: self.layout.pair_products(t.b, t.c) }
    }

    /// At most how many triples of levels a triple table has, for `n` rows:
    /// the product of the levels of its distinct factors, at most n (a safe
    /// bound: the first pass counts each factor's levels, not the triples present).
    pub fn triple_bound(&self, t: Triple, n: usize) -> f64 {
        let levels = |bar: usize| self.spec.groups[bar].levels.len() as f64;
        let mut cells = levels(t.f) * levels(t.b);
        if self.group_of(t.c) != self.group_of(t.b) {
            cells *= levels(t.c);
        }
        cells.min(n as f64)
    }
}
