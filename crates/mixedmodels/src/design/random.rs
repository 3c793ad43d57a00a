//! Random-effects terms `(lhs | g)`: the grouping factor (an interaction of
//! factors for `a:b`) and the per-row columns of `lhs`, as lme4's `mkReTrms`.

use super::model_matrix::{model_matrix, VariableTable};
use std::collections::HashMap;

use super::variable::VarSpec;
use crate::data::{DataFrame, MISSING};
use crate::error::{Error, Result};
use crate::formula::Bar;

/// One random-effects term on the rows of a data set.
#[derive(Debug, Clone, PartialEq)]
pub struct ReTerm {
    /// lme4's name of the grouping factor: `Subject`, `cask:batch`.
    pub group: String,
    pub levels: Vec<String>,
    /// The level of each row (`MISSING` for a level unseen in fitting, in new data).
    pub refs: Vec<u32>,
    /// Names of the term's columns: `(Intercept)`, `Days`.
    pub cnames: Vec<String>,
    /// The term's model matrix, row-major: `q()` values a row.
    pub z: Vec<f64>,
}

impl ReTerm {
    /// Number of columns (random effects per level).
    pub fn q(&self) -> usize {
        self.cnames.len()
    }

    pub fn nlevels(&self) -> usize {
        self.levels.len()
    }

    pub fn nrows(&self) -> usize {
        self.refs.len()
    }

    /// The term's shape and names without its rows (a model formed from
    /// cross-products needs no more).
    pub fn without_rows(&self) -> ReTerm {
        ReTerm {
            group: self.group.clone(),
            levels: self.levels.clone(),
            refs: vec![],
            cnames: self.cnames.clone(),
            z: vec![],
        }
    }

    pub fn z_row(&self, i: usize) -> &[f64] {
        let q = self.q();
        &self.z[i * q..(i + 1) * q]
    }

    /// The term on some of its rows (all levels kept).
    pub fn select_rows(&self, rows: &[usize]) -> ReTerm {
        ReTerm {
            group: self.group.clone(),
            levels: self.levels.clone(),
            refs: rows.iter().map(|&i| self.refs[i]).collect(),
            cnames: self.cnames.clone(),
            z: rows.iter().flat_map(|&i| self.z_row(i).iter().copied()).collect(),
        }
    }
}

/// What a grouping factor learned from the fitting data.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupSpec {
    pub parts: Vec<VarSpec>,
    pub levels: Vec<String>,
}

impl GroupSpec {
    /// Learn the levels of the interaction of the bar's grouping expressions:
    /// the combinations present, ordered by the first factor's levels, then the
    /// second's (R's `a:b` on factors, with unused levels dropped).
    pub fn learn(bar: &Bar, data: &DataFrame) -> Result<GroupSpec> {
        let parts = bar
            .group
            .iter()
            .map(|e| {
                let spec = VarSpec::learn(e, data, &[])?;
                Ok(match spec {
                    VarSpec::Factor { .. } => spec,
                    // A grouping variable is always a factor, whatever its type.
                    _ => VarSpec::learn(&wrap_factor(e), data, &[])?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let part_levels: Vec<&Vec<String>> = parts
            .iter()
            .map(|p| match p {
                VarSpec::Factor { levels, .. } => levels,
                _ => unreachable!(),
            })
            .collect();
        let combined = combine_codes(&parts, &part_levels, data)?;
        let levels =
            distinct_codes(&combined, &part_levels).into_iter().map(|c| combined_label(c, &part_levels)).collect();
        Ok(GroupSpec { parts, levels })
    }

    /// The level of each row of `data` (`MISSING` where the combination was not seen in fitting).
    pub fn refs(&self, data: &DataFrame) -> Result<Vec<u32>> {
        let part_levels: Vec<&Vec<String>> = self
            .parts
            .iter()
            .map(|p| match p {
                VarSpec::Factor { levels, .. } => levels,
                _ => unreachable!(),
            })
            .collect();
        if let [part] = self.parts.as_slice() {
            return self.single_factor_refs(part, data);
        }
        let combined = combine_codes(&self.parts, &part_levels, data)?;
        let index = self.level_index();
        let mut cache: std::collections::HashMap<u64, u32> = std::collections::HashMap::new();
        Ok(combined
            .iter()
            .map(|&c| {
                if c == u64::MAX {
                    return MISSING;
                }
                *cache
                    .entry(c)
                    .or_insert_with(|| index.get(combined_label(c, &part_levels).as_str()).copied().unwrap_or(MISSING))
            })
            .collect())
    }
}

impl GroupSpec {
    /// Each level's position, by label.
    fn level_index(&self) -> HashMap<&str, u32> {
        self.levels.iter().enumerate().map(|(i, l)| (l.as_str(), i as u32)).collect()
    }

    /// [`GroupSpec::refs`] of a grouping factor of one part: its codes
    /// as they are when its levels are the group's (the fitting data), else
    /// mapped by label (the group's levels are a subset of the part's, in order).
    fn single_factor_refs(&self, part: &VarSpec, data: &DataFrame) -> Result<Vec<u32>> {
        let codes = part.factor_codes(data)?;
        let VarSpec::Factor { levels: part_levels, .. } = part else { unreachable!() };
        if *part_levels == self.levels {
            return Ok(codes.into_owned());
        }
        let index = self.level_index();
        let map: Vec<u32> = part_levels.iter().map(|l| index.get(l.as_str()).copied().unwrap_or(MISSING)).collect();
        Ok(codes.iter().map(|&c| if c == MISSING { MISSING } else { map[c as usize] }).collect())
    }
}

/// Each bar's grouping factor, learned once for bars that share one
/// (`(x || g)` is `(1 | g) + (0 + x | g)`: one factor of many levels, read once).
pub fn learn_groups(bars: &[Bar], data: &DataFrame) -> Result<Vec<GroupSpec>> {
    let mut out: Vec<GroupSpec> = Vec::with_capacity(bars.len());
    for (i, bar) in bars.iter().enumerate() {
        let group = match (0..i).find(|&j| same_grouping(&bars[j], bar)) {
            Some(j) => out[j].clone(),
            None => GroupSpec::learn(bar, data)?,
        };
        out.push(group);
    }
    Ok(out)
}

/// Do two bars group by the same expressions (so the same factor)?
pub fn same_grouping(a: &Bar, b: &Bar) -> bool {
    a.group.len() == b.group.len() && a.group.iter().zip(&b.group).all(|(x, y)| x.deparse() == y.deparse())
}

/// The distinct combined codes present (missing left out), increasing. A
/// table of the codes seen when their range is small next to the rows (a
/// grouping factor of many levels: linear, no sort of the rows), else a sort.
fn distinct_codes(combined: &[u64], part_levels: &[&Vec<String>]) -> Vec<u64> {
    let range = part_levels.iter().try_fold(1u64, |acc, l| acc.checked_mul(l.len() as u64));
    match range {
        Some(r) if r <= (4 * combined.len() as u64).max(1 << 16) => {
            let mut seen = vec![false; r as usize];
            for &c in combined.iter().filter(|c| **c != u64::MAX) {
                seen[c as usize] = true;
            }
            (0..r).filter(|&c| seen[c as usize]).collect()
        }
        _ => {
            let mut present: Vec<u64> = combined.iter().copied().filter(|c| *c != u64::MAX).collect();
            present.sort_unstable();
            present.dedup();
            present
        }
    }
}

fn wrap_factor(e: &crate::formula::Expr) -> crate::formula::Expr {
    use crate::formula::{Arg, Expr, ExprKind};
    Expr::new(ExprKind::Call { func: "factor".into(), args: vec![Arg { name: None, value: e.clone() }] }, e.pos)
}

/// Mixed-radix code of each row's level combination (first part slowest); `u64::MAX` if missing.
fn combine_codes(parts: &[VarSpec], part_levels: &[&Vec<String>], data: &DataFrame) -> Result<Vec<u64>> {
    let mut combined = vec![0u64; data.nrows()];
    for (p, levels) in parts.iter().zip(part_levels) {
        let codes = p.factor_codes(data)?;
        let k = levels.len() as u64;
        for (c, &code) in combined.iter_mut().zip(codes.iter()) {
            *c = if *c == u64::MAX || code == MISSING { u64::MAX } else { *c * k + code as u64 };
        }
    }
    Ok(combined)
}

fn combined_label(mut code: u64, part_levels: &[&Vec<String>]) -> String {
    let mut parts = Vec::with_capacity(part_levels.len());
    for levels in part_levels.iter().rev() {
        let k = levels.len() as u64;
        parts.push(levels[(code % k) as usize].as_str());
        code /= k;
    }
    parts.reverse();
    parts.join(":")
}

/// lme4's order of the random-effects terms (`mkReTrms`, `reorder.terms`),
/// given each term's number of levels in formula order: unchanged unless
/// some term has more levels than the one before it
/// (`any(diff(nl) > 0)`), then `rev(order(nl))`: most levels first, terms
/// that tie in reverse formula order.
pub fn lme4_term_order(nlevels: &[usize]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..nlevels.len()).collect();
    if nlevels.windows(2).any(|w| w[1] > w[0]) {
        // order(nl) is a stable ascending sort; reversing it gives this.
        order.sort_by_key(|&i| nlevels[i]);
        order.reverse();
    }
    order
}

/// Build a term's rows from its learned grouping factor and lhs variables.
pub fn re_term(bar: &Bar, group: &GroupSpec, vars: &VariableTable, data: &DataFrame) -> Result<ReTerm> {
    re_term_with_refs(bar, group, vars, data, group.refs(data)?)
}

/// [`re_term`] with the rows' levels already known (`refs`: `group.refs(data)`,
/// shared by the terms of one grouping factor).
pub fn re_term_with_refs(
    bar: &Bar,
    group: &GroupSpec,
    vars: &VariableTable,
    data: &DataFrame,
    refs: Vec<u32>,
) -> Result<ReTerm> {
    let n = data.nrows();
    let mm = model_matrix(&bar.lhs, vars, n)?;
    let q = mm.ncols();
    let mut z = vec![0.0; n * q];
    for j in 0..q {
        for (i, v) in mm.column(j).iter().enumerate() {
            z[i * q + j] = *v;
        }
    }
    Ok(ReTerm { group: bar.group_name.clone(), levels: group.levels.clone(), refs, cnames: mm.names, z })
}

/// lme4's checks on a fitted term: at least two levels, fewer levels than rows,
/// fewer random effects than rows.
pub fn check_term(t: &ReTerm, nobs: usize) -> Result<()> {
    let l = t.nlevels();
    if l < 2 {
        return Err(Error::column(
            &t.group,
            format!("a grouping factor needs more than one level; '{}' has {l}", t.group),
        ));
    }
    if l >= nobs {
        return Err(Error::column(
            &t.group,
            format!("the grouping factor '{}' has {l} levels for {nobs} observations: it must have fewer levels than observations", t.group),
        ));
    }
    if l * t.q() >= nobs && t.q() > 1 {
        return Err(Error::column(
            &t.group,
            format!(
                "the term for '{}' has {} random effects for {nobs} observations: the random-effects parameters and the residual variance are not identifiable",
                t.group,
                l * t.q()
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{distinct_codes, lme4_term_order};

    #[test]
    fn distinct_codes_are_the_sorted_present_codes_by_table_or_sort() {
        let combined = [7u64, 3, u64::MAX, 7, 0, 3, 11];
        let small: Vec<String> = (0..12).map(|i| i.to_string()).collect();
        // A range of 12 codes: the table of codes seen.
        assert_eq!(distinct_codes(&combined, &[&small]), [0, 3, 7, 11]);
        // A range beyond any table (2^40 combinations): the sort.
        let wide: Vec<String> = vec![String::new(); 1 << 20];
        assert_eq!(distinct_codes(&combined, &[&wide, &wide]), [0, 3, 7, 11]);
    }

    #[test]
    fn terms_keep_formula_order_unless_a_later_one_has_more_levels() {
        // Non-increasing: lme4 leaves the terms alone, ties included.
        assert_eq!(lme4_term_order(&[6, 6, 5]), [0, 1, 2]);
        assert_eq!(lme4_term_order(&[9, 4, 4, 2]), [0, 1, 2, 3]);
        assert_eq!(lme4_term_order(&[3]), [0]);
        assert!(lme4_term_order(&[]).is_empty());
    }

    #[test]
    fn reordered_terms_put_ties_in_reverse_formula_order() {
        // R: rev(order(c(6, 5, 6))) = 3 1 2 (tied_levels.csv: a, b, g -> g, a, b)
        assert_eq!(lme4_term_order(&[6, 5, 6]), [2, 0, 1]);
        // R: rev(order(c(4, 4, 9))) = 3 2 1
        assert_eq!(lme4_term_order(&[4, 4, 9]), [2, 1, 0]);
        // R: rev(order(c(2, 7, 7, 3))) = 3 2 4 1
        assert_eq!(lme4_term_order(&[2, 7, 7, 3]), [2, 1, 3, 0]);
    }
}
