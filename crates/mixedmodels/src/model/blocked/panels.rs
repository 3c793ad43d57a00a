//! The Schur update of the rest by dense matrix products over column panels
//! of L21:
//!
//! ```text
//! S -= A A',   T -= A B     with A = L21 (m x l0 q0), B = L_X1 ((l0 q0) x (p+1))
//! ```
//!
//! taken as the sum over panels of levels, S -= A_P A_P' and T -= A_P B_P,
//! where A_P holds the columns of the levels in panel P. This is the same
//! product as one dense copy of L21, in memory bounded by one panel
//! (m x width) instead of m x l0 q0: a rest crossed with a first term of many
//! levels (20,000 x 2,000 crossed levels, 10 million rows: a 320 MB copy)
//! gets the speed of the dense product where the whole copy would not be
//! affordable. Which Schur update runs is chosen in `schur_update`.

use crate::linalg;
use crate::model::crossprod::CrossProducts;

/// A dense panel of L21's columns and the matching rows of L_X1.
#[derive(Debug, Clone)]
pub struct SchurPanels {
    /// Levels of the first term a panel takes.
    levels: usize,
    /// m x (levels q0), column-major: the panel's columns of L21.
    a: Vec<f64>,
    /// (levels q0) x (p+1), column-major: the panel's rows of L_X1.
    b: Vec<f64>,
}

impl SchurPanels {
    /// Panels of `levels` levels each (at least one).
    pub fn new(cp: &CrossProducts, levels: usize) -> Self {
        let levels = levels.clamp(1, cp.l0.max(1));
        SchurPanels { levels, a: vec![0.0; cp.m * levels * cp.q0], b: vec![0.0; levels * cp.q0 * (cp.p + 1)] }
    }

    /// Values the panels hold (for the memory accounting).
    pub fn len(&self) -> usize {
        self.a.len() + self.b.len()
    }

    /// S -= L21 L21' (lower triangle of the dense `rest`, m x m) and
    /// T -= L21 L_X1 (`lxr`, m x (p+1)), panel by panel. `l21` and `lx1` are
    /// the factor's blocks in their level-major layouts (`BlockedFactor`).
    pub fn subtract(&mut self, cp: &CrossProducts, l21: &[f64], lx1: &[f64], rest: &mut [f64], lxr: &mut [f64]) {
        let (m, q0, k) = (cp.m, cp.q0, cp.p + 1);
        let mut first = 0;
        while first < cp.l0 {
            let end = (first + self.levels).min(cp.l0);
            let cols = (end - first) * q0;
            let a = &mut self.a[..m * cols];
            // Each panel has its own pattern: clear what the previous one wrote.
            a.iter_mut().for_each(|v| *v = 0.0);
            for j in first..end {
                for e in cp.level_cross(j) {
                    let block = cp.rest_blocks[e.block()];
                    for t in 0..q0 {
                        let col = ((j - first) * q0 + t) * m + block.row;
                        let from = e.values() + t * block.q;
                        a[col..col + block.q].copy_from_slice(&l21[from..from + block.q]);
                    }
                }
            }
            // L_X1 is stored q0 x (p+1) a level, column-major.
            let b = &mut self.b[..cols * k];
            for j in first..end {
                for c in 0..k {
                    for t in 0..q0 {
                        b[c * cols + (j - first) * q0 + t] = lx1[j * q0 * k + c * q0 + t];
                    }
                }
            }
            linalg::sub_aat_lower(rest, m, a, cols);
            linalg::gemm_nn(lxr, a, b, m, cols, k, -1.0, true);
            first = end;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::SchurPanels;
    use crate::data::DataFrame;
    use crate::design::DesignSpec;
    use crate::formula::ModelFormula;
    use crate::model::LinearMixedModel;

    /// `levels` levels of g (four rows each) crossed with 11 levels of h.
    fn model(formula: &str, levels: usize) -> LinearMixedModel {
        let n = 4 * levels;
        let wave = |i: usize, a: f64| ((i as f64) * a).sin();
        let g: Vec<String> = (0..n).map(|i| format!("g{}", i % levels)).collect();
        let h: Vec<String> = (0..n).map(|i| format!("h{}", (i * 5 + i / 4) % 11)).collect();
        let x: Vec<f64> = (0..n).map(|i| wave(i, 0.7)).collect();
        let y: Vec<f64> = (0..n).map(|i| 1.0 + 0.5 * x[i] + wave(i % levels, 1.3) + 0.8 * wave(i, 2.3)).collect();
        let df = DataFrame::new().with_numeric("y", y).unwrap().with_numeric("x", x).unwrap();
        let df = df.with_labels("g", &g).unwrap().with_labels("h", &h).unwrap();
        let (spec, design) = DesignSpec::learn(ModelFormula::parse(formula).unwrap(), &df, &[]).unwrap();
        let y = spec.numeric_response(&df).unwrap();
        let p = design.x.ncols();
        LinearMixedModel::new(design.x.values, p, y, design.terms, None, true).unwrap()
    }

    fn relative_gap(a: &[f64], b: &[f64]) -> f64 {
        let scale = a.iter().fold(0.0f64, |s, v| s.max(v.abs()));
        a.iter().zip(b).fold(0.0f64, |s, (x, y)| s.max((x - y).abs())) / scale
    }

    /// The Schur update over panels of a few levels (a last panel shorter
    /// than the others included) gives the factor the update chosen by
    /// default gives, for scalar and vector terms.
    #[test]
    fn panels_match_the_default_update() {
        for (formula, theta) in [
            ("y ~ x + (1 | g) + (1 | h)", vec![0.9, 0.4]),
            ("y ~ x + (x | g) + (x | h)", vec![0.8, -0.2, 0.5, 0.6, 0.1, 0.3]),
        ] {
            let mut m = model(formula, 301);
            let expected = m.objective_at(&theta);
            let (rest, lxr, lxx) = (m.factor.rest.values().to_vec(), m.factor.lxr.clone(), m.factor.lxx.clone());
            let f = &mut m.factor;
            assert!(f.schur_panels.is_none(), "{formula}: a small model takes the default update");
            f.schur_panels = Some(SchurPanels::new(&m.cp, 7));
            f.l21_dense = None;
            f.lx1_dense = None;
            let panels = m.objective_at(&theta);
            assert!((panels - expected).abs() <= 1e-12 * expected.abs(), "{formula}: {panels} vs {expected}");
            let lower = |v: &[f64]| -> Vec<f64> {
                let n = m.cp.m;
                (0..n).flat_map(|c| (c..n).map(move |r| (c, r))).map(|(c, r)| v[c * n + r]).collect()
            };
            let rest_gap = relative_gap(&lower(&rest), &lower(m.factor.rest.values()));
            assert!(rest_gap < 1e-12, "{formula}: the rest's factor (lower triangle) {rest_gap}");
            assert!(relative_gap(&lxr, &m.factor.lxr) < 1e-12, "{formula}: L_XR");
            assert!(relative_gap(&lxx, &m.factor.lxx) < 1e-12, "{formula}: L_XX");
        }
    }
}
