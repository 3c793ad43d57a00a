//! The rows of a fitted linear mixed model as the diagnostics see them. With
//! prior weights W the model is the unweighted one for the rows scaled by
//! sqrt(w): y, X and Z times sqrt(w), so that V = sigma^2 (I + Z Lambda Lambda' Z')
//! on the scaled rows, as HLMdiag writes it. Each row has:
//!
//! - m_i = Lambda' z_i: its random-effects coordinates (in the spherical u),
//!   one q_k-block a term at its level;
//! - x_i: its row of X;
//! - r_i = y_i - x_i beta - z_i b: the conditional residual, which is also
//!   V0^{-1} (y - X beta) at row i (V0 = V / sigma^2).
//!
//! Coordinates number u as the blocked factor does: the first term's level j
//! at j q0 .. (j + 1) q0, the rest's row r at l0 q0 + r.

use crate::model::LinearMixedModel;

/// One random-effects coordinate of a row and its value.
pub type Coord = (usize, f64);

pub struct Rows<'a> {
    pub model: &'a LinearMixedModel,
    /// Each system term's lambda (q x q, column-major, lower), at the model's theta.
    lambdas: Vec<Vec<f64>>,
    /// sqrt of the prior weights (None: all 1).
    sqrt_w: Option<Vec<f64>>,
    /// Conditional residuals on the scaled rows.
    pub resid: Vec<f64>,
}

impl<'a> Rows<'a> {
    /// The model's factor must be at its fitted theta.
    pub fn new(model: &'a LinearMixedModel) -> Rows<'a> {
        let lambdas = (0..model.system.terms.len())
            .map(|k| {
                let q = model.system.terms[k].q;
                let mut l = vec![0.0; q * q];
                model.system.fill_lambda(&model.theta, k, &mut l);
                l
            })
            .collect();
        let sqrt_w = model.weights.as_ref().map(|w| w.iter().map(|v| v.sqrt()).collect::<Vec<_>>());
        let eta = model.linear_predictor();
        let resid = (0..model.n()).map(|i| sqrt_w.as_ref().map_or(1.0, |s| s[i]) * (model.y[i] - eta[i])).collect();
        Rows { model, lambdas, sqrt_w, resid }
    }

    pub fn n(&self) -> usize {
        self.model.n()
    }

    pub fn p(&self) -> usize {
        self.model.p()
    }

    /// Total number of random effects q.
    pub fn q(&self) -> usize {
        self.model.cp.l0 * self.model.cp.q0 + self.model.cp.m
    }

    fn scale(&self, i: usize) -> f64 {
        self.sqrt_w.as_ref().map_or(1.0, |s| s[i])
    }

    /// The level of row i of the first term.
    pub fn first_level(&self, i: usize) -> usize {
        self.model.terms[0].refs[i] as usize
    }

    /// m_i = sqrt(w_i) Lambda' z_i as (coordinate, value) pairs, term by
    /// term of the blocked system.
    pub fn random_coords(&self, i: usize, out: &mut Vec<Coord>) {
        out.clear();
        let cp = &self.model.cp;
        let s = self.scale(i);
        for (k, t) in self.model.system_terms().iter().enumerate() {
            let q = t.q();
            let z = t.z_row(i);
            let lam = &self.lambdas[k];
            let first = if k == 0 {
                t.refs[i] as usize * q
            } else {
                cp.l0 * cp.q0 + cp.rest_blocks[cp.term_first_block[k] + t.refs[i] as usize].row
            };
            for c in 0..q {
                // (lambda' z)[c] = sum_r lambda[r, c] z[r], lambda lower triangular.
                let v: f64 = (c..q).map(|r| lam[c * q + r] * z[r]).sum();
                out.push((first + c, s * v));
            }
        }
    }

    /// sqrt(w_i) x_i.
    pub fn x_row(&self, i: usize, out: &mut [f64]) {
        let (n, s) = (self.n(), self.scale(i));
        for (c, v) in out.iter_mut().enumerate() {
            *v = s * self.model.x[c * n + i];
        }
    }
}

/// The response minus its least-squares fit on X (what the model's
/// cross-products hold; see `LinearMixedModel::new`), unscaled.
pub fn shifted_response(m: &LinearMixedModel) -> Vec<f64> {
    let (n, p) = (m.n(), m.p());
    (0..n).map(|i| m.y[i] - (0..p).map(|c| m.x[c * n + i] * m.beta_ols[c]).sum::<f64>()).collect()
}

/// The rows of each level of a grouping (codes 0..levels, one a row).
pub fn rows_by_level(codes: &[u32], levels: usize) -> Vec<Vec<usize>> {
    let mut out = vec![Vec::new(); levels];
    for (i, &c) in codes.iter().enumerate() {
        out[c as usize].push(i);
    }
    out
}
