//! The terms of the blocked system, as the factor and the gradient see them.
//!
//! Usually one a random-effects term. But the terms on the first grouping
//! factor that lme4 places next to each other share the first block, with a
//! block-diagonal lambda (MixedModels.jl's amalgamated terms; `zerocorr`):
//! `(x || g)`, lme4's `(1 | g) + (0 + x | g)`, is one term of two columns
//! with a diagonal covariance, so its slope does not become a second term
//! of as many columns as g has levels in the sparse rest block. The merged
//! term's columns are the public terms' columns in lme4's order, so theta
//! keeps lme4's order and the public terms (names, ranef, variances) are
//! unchanged: [`SystemTerms::locate`] maps a public term to its columns.

use super::lambda::Parameterization;
use crate::design::ReTerm;

/// One term of the blocked system.
#[derive(Debug, Clone, PartialEq)]
pub struct SystemTerm {
    pub q: usize,
    pub nlevels: usize,
    /// Its lambda's parameters: (index in theta, row, column), theta's order.
    pub entries: Vec<(usize, usize, usize)>,
}

/// The blocked system's terms and where the public terms lie in them.
#[derive(Debug, Clone, PartialEq)]
pub struct SystemTerms {
    pub terms: Vec<SystemTerm>,
    /// How many public terms share the first block (1: none merged).
    pub merged: usize,
    /// Column offset of each merged public term in the first block.
    first_offsets: Vec<usize>,
}

impl SystemTerms {
    /// The first `merged` public terms share the first block; the others
    /// are one system term each.
    pub fn new(par: &Parameterization, merged: usize) -> Self {
        let merged = merged.clamp(1, par.terms.len().max(1));
        let mut first_offsets = Vec::with_capacity(merged);
        let mut first = SystemTerm { q: 0, nlevels: par.terms.first().map_or(0, |t| t.nlevels), entries: vec![] };
        let mut terms = Vec::with_capacity(par.terms.len() + 1 - merged);
        for (k, t) in par.terms.iter().enumerate() {
            let offset = if k < merged { first.q } else { 0 };
            let entries: Vec<(usize, usize, usize)> = lower_triangle(t.q)
                .enumerate()
                .map(|(i, (r, c))| (t.theta_offset + i, r + offset, c + offset))
                .collect();
            if k < merged {
                first_offsets.push(offset);
                first.q += t.q;
                first.entries.extend(entries);
                if k + 1 == merged {
                    terms.push(std::mem::replace(&mut first, SystemTerm { q: 0, nlevels: 0, entries: vec![] }));
                }
            } else {
                terms.push(SystemTerm { q: t.q, nlevels: t.nlevels, entries });
            }
        }
        SystemTerms { terms, merged, first_offsets }
    }

    /// One system term a public term.
    pub fn unmerged(par: &Parameterization) -> Self {
        SystemTerms::new(par, 1)
    }

    /// The system term holding public term `k`, and the offset of its
    /// columns there.
    pub fn locate(&self, k: usize) -> (usize, usize) {
        if k < self.merged {
            (0, self.first_offsets[k])
        } else {
            (k + 1 - self.merged, 0)
        }
    }

    /// Write system term `s`'s lambda (q x q, column-major, lower) for theta.
    pub fn fill_lambda(&self, theta: &[f64], s: usize, out: &mut [f64]) {
        let t = &self.terms[s];
        out[..t.q * t.q].iter_mut().for_each(|v| *v = 0.0);
        for &(i, r, c) in &t.entries {
            out[c * t.q + r] = theta[i];
        }
    }

    pub fn qmax(&self) -> usize {
        self.terms.iter().map(|t| t.q).max().unwrap_or(1)
    }

    /// The system terms' rows: the public terms, with the merged ones as
    /// one term of their columns side by side (None when none is merged).
    pub fn merged_rows(&self, terms: &[ReTerm]) -> Option<Vec<ReTerm>> {
        (self.merged > 1).then(|| {
            let mut out = Vec::with_capacity(self.terms.len());
            out.push(side_by_side(&terms[..self.merged]));
            out.extend(terms[self.merged..].iter().cloned());
            out
        })
    }

    /// Public term `k`'s conditional modes (level-major) from the system
    /// terms' (`b[s]`, level-major, q_s values a level).
    pub fn public_values(&self, b: &[Vec<f64>], k: usize, q: usize) -> Vec<f64> {
        let (s, offset) = self.locate(k);
        let qs = self.terms[s].q;
        if qs == q {
            return b[s].clone();
        }
        b[s].chunks_exact(qs).flat_map(|level| level[offset..offset + q].iter().copied()).collect()
    }
}

/// The (row, column) pairs of a q x q lower triangle, column by column.
fn lower_triangle(q: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..q).flat_map(move |c| (c..q).map(move |r| (r, c)))
}

/// How many leading terms (lme4's order) share the first term's grouping
/// factor: those the first block can hold together.
pub fn terms_on_first_factor(terms: &[ReTerm]) -> usize {
    let Some(t0) = terms.first() else { return 0 };
    1 + terms[1..].iter().take_while(|t| t.group == t0.group && t.levels == t0.levels && t.refs == t0.refs).count()
}

/// Terms on the same rows and levels as one term of all their columns.
fn side_by_side(terms: &[ReTerm]) -> ReTerm {
    let t0 = &terms[0];
    let q: usize = terms.iter().map(ReTerm::q).sum();
    let n = t0.nrows();
    let mut z = Vec::with_capacity(n * q);
    for i in 0..n {
        for t in terms {
            z.extend_from_slice(t.z_row(i));
        }
    }
    ReTerm {
        group: t0.group.clone(),
        levels: t0.levels.clone(),
        refs: t0.refs.clone(),
        cnames: terms.iter().flat_map(|t| t.cnames.iter().cloned()).collect(),
        z,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_terms_keep_thetas_order_in_a_block_diagonal_lambda() {
        // (1 | g) + (0 + f | g) with f of two levels, then (1 | h).
        let par = Parameterization::new(&[(1, 5), (2, 5), (1, 3)]);
        let sys = SystemTerms::new(&par, 2);
        assert_eq!(sys.terms.len(), 2);
        assert_eq!(sys.terms[0].q, 3);
        assert_eq!(sys.terms[0].entries, vec![(0, 0, 0), (1, 1, 1), (2, 2, 1), (3, 2, 2)]);
        assert_eq!(sys.terms[1].entries, vec![(4, 0, 0)]);
        assert_eq!((sys.locate(0), sys.locate(1), sys.locate(2)), ((0, 0), (0, 1), (1, 0)));
        let theta = [1.0, 2.0, 3.0, 4.0, 5.0];
        let mut lam = vec![0.0; 9];
        sys.fill_lambda(&theta, 0, &mut lam);
        assert_eq!(lam, vec![1.0, 0.0, 0.0, 0.0, 2.0, 3.0, 0.0, 0.0, 4.0]);
        let b = vec![vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], vec![7.0]];
        assert_eq!(sys.public_values(&b, 1, 2), vec![2.0, 3.0, 5.0, 6.0]);
        assert_eq!(sys.public_values(&b, 2, 1), vec![7.0]);
        assert_eq!(SystemTerms::unmerged(&par).terms.len(), 3);
    }
}
