//! The linear mixed model at a given theta: the profiled objective and the
//! solution (beta, u) it implies (JSS 67(1), sections 3.4-3.6).

use super::blocked::{BlockedFactor, Pieces};
use super::crossprod::CrossProducts;
use super::gradient::{GradientPieces, GradientWorkspace};
use super::lambda::Parameterization;
use super::system::{terms_on_first_factor, SystemTerms};
use crate::design::ReTerm;
use crate::error::{Error, Result};
use crate::linalg::{self, small, WeightedGram};

const LOG_2PI: f64 = 1.837_877_066_409_345_5;

/// A linear mixed model: data reduced to cross-products, and the factor at the current theta.
pub struct LinearMixedModel {
    pub cp: CrossProducts,
    pub par: Parameterization,
    pub factor: BlockedFactor,
    pub reml: bool,
    pub theta: Vec<f64>,
    /// Response minus offset.
    pub y: Vec<f64>,
    /// Fixed-effects matrix, n x p column-major.
    pub x: Vec<f64>,
    pub terms: Vec<ReTerm>,
    /// The blocked system's terms (the public terms, or some sharing the first block).
    pub system: SystemTerms,
    /// The system terms' rows when some public terms share the first block.
    system_rows: Option<Vec<ReTerm>>,
    pub weights: Option<Vec<f64>>,
    /// The least-squares fit of y on X, subtracted from y in the cross-products.
    pub beta_ols: Vec<f64>,
    /// Where the optimizer starts (see `start::moment_start`).
    pub start: Vec<f64>,
    /// Number of objective evaluations so far.
    pub feval: usize,
    /// Buffers of the least-squares fit, reused by every new response.
    ls_workspace: WeightedGram,
    /// Buffers of the gradient, allocated on its first use.
    gradient: Option<Box<GradientWorkspace>>,
}

/// The cross-products of a response with Z and itself, Z'Wy and y'Wy, for
/// a model without fixed effects. They are linear (quadratic) in y, so a
/// GLMM's working response at a new beta is a combination of stored parts.
#[derive(Debug, Clone, PartialEq)]
pub struct ResponseParts {
    /// Z_0'Wy, one q0 block a level of the first term.
    pub z0: Vec<f64>,
    /// Z_rest'Wy.
    pub rest: Vec<f64>,
    /// y'Wy.
    pub yy: f64,
}

impl ResponseParts {
    /// self + a other (the y'Wy part is left to the caller: it is quadratic).
    pub fn add_scaled(&mut self, a: f64, other: &ResponseParts) {
        self.z0.iter_mut().zip(&other.z0).for_each(|(x, y)| *x += a * y);
        self.rest.iter_mut().zip(&other.rest).for_each(|(x, y)| *x += a * y);
    }
}

impl LinearMixedModel {
    /// `terms` in lme4's order (most levels first). `y` already has any offset subtracted.
    pub fn new(
        x: Vec<f64>,
        p: usize,
        y: Vec<f64>,
        terms: Vec<ReTerm>,
        weights: Option<Vec<f64>>,
        reml: bool,
    ) -> Result<Self> {
        let n = y.len();
        if terms.is_empty() {
            return Err(Error::Data(
                "the formula has no random-effects term such as (1 | group); fit a linear model instead".into(),
            ));
        }
        if n <= p {
            return Err(Error::Data(format!("{n} observations are too few for {p} fixed effects")));
        }
        if let Some(w) = &weights {
            if let Some(i) = w.iter().position(|v| !(v.is_finite() && *v > 0.0)) {
                return Err(Error::column(
                    "weights",
                    format!("weights must be positive and finite; row {i} has {}", w[i]),
                ));
            }
        }
        // Work with y minus its least-squares fit on X: the profiled objective
        // is unchanged (X beta absorbs the shift) and y'y no longer dwarfs the
        // residual sum of squares, so r^2 keeps its digits.
        let mut ls_workspace = WeightedGram::default();
        let beta_ols = least_squares(&x, p, &y, weights.as_deref(), &mut ls_workspace);
        let y_shift: Vec<f64> =
            (0..n).map(|i| y[i] - (0..p).map(|c| x[c * n + i] * beta_ols[c]).sum::<f64>()).collect();
        let shapes: Vec<(usize, usize)> = terms.iter().map(|t| (t.q(), t.nlevels())).collect();
        let par = Parameterization::new(&shapes);
        let system = SystemTerms::new(&par, terms_on_first_factor(&terms));
        let system_rows = system.merged_rows(&terms);
        let cp = CrossProducts::new(&x, p, &y_shift, weights.as_deref(), system_rows.as_deref().unwrap_or(&terms));
        let resid_ols = y_shift;
        let factor = BlockedFactor::new(&cp, &system);
        let theta = par.initial_theta();
        let start = super::start::moment_start(&resid_ols, &terms, &par);
        let mut m = LinearMixedModel {
            cp,
            par,
            factor,
            reml,
            theta: theta.clone(),
            start,
            y,
            x,
            terms,
            system,
            system_rows,
            weights,
            beta_ols,
            feval: 0,
            ls_workspace,
            gradient: None,
        };
        m.set_theta(&theta);
        Ok(m)
    }

    /// A model whose data arrive as cross-products only (an out-of-core fit,
    /// [`crate::sums`]): `cp` holds [X y]'s cross-products with y already
    /// shifted by its least-squares fit `beta_ols` (as `new` shifts it), and
    /// `terms` the random-effects terms without rows. Everything computed
    /// from the cross-products (the criterion, estimates, derivatives,
    /// conditional modes and variances) works as for a model with rows;
    /// what reads the rows does not (see [`LinearMixedModel::holds_rows`]).
    /// `merged`: how many leading terms share the first block in `cp`'s
    /// layout (1: none; see [`SystemTerms`]).
    pub fn from_cross_products(
        cp: CrossProducts,
        terms: Vec<ReTerm>,
        merged: usize,
        reml: bool,
        beta_ols: Vec<f64>,
        start: Vec<f64>,
    ) -> Self {
        let shapes: Vec<(usize, usize)> = terms.iter().map(|t| (t.q(), t.nlevels())).collect();
        let par = Parameterization::new(&shapes);
        let system = SystemTerms::new(&par, merged);
        let factor = BlockedFactor::new(&cp, &system);
        let theta = par.initial_theta();
        let mut m = LinearMixedModel {
            cp,
            par,
            factor,
            reml,
            theta: theta.clone(),
            start,
            y: vec![],
            x: vec![],
            terms,
            system,
            system_rows: None,
            weights: None,
            beta_ols,
            feval: 0,
            ls_workspace: WeightedGram::default(),
            gradient: None,
        };
        m.set_theta(&theta);
        m
    }

    /// Does the model hold its rows (X, y, the terms' rows)? A model built
    /// from cross-products alone does not.
    pub fn holds_rows(&self) -> bool {
        self.y.len() == self.n()
    }

    /// The response must vary about its least-squares fit on X: a constant
    /// response (or one X reproduces) leaves no residual variance to
    /// estimate, and the criterion's log(r^2) would run to minus infinity.
    /// (Not checked in `new`: PIRLS builds models whose working response a
    /// separating predictor fits exactly, and reports that itself.)
    pub fn check_response_varies(&self) -> Result<()> {
        let (p, k) = (self.p(), self.p() + 1);
        let rss = self.cp.xyxy[p * k + p]; // y minus its fit on X (see `new`), squared and weighted
        let weight = |i: usize| self.weights.as_ref().map_or(1.0, |w| w[i]);
        let yss: f64 = self.y.iter().enumerate().map(|(i, v)| weight(i) * v * v).sum();
        let underflows = yss == 0.0 && self.y.iter().any(|v| *v != 0.0);
        check_variation(rss, yss, underflows)
    }

    /// A model on the same design, with its own factor workspace (one a thread).
    pub fn replicate(&self) -> LinearMixedModel {
        let cp = self.cp.clone();
        let factor = BlockedFactor::new(&cp, &self.system);
        let mut m = LinearMixedModel {
            cp,
            par: self.par.clone(),
            factor,
            reml: self.reml,
            theta: self.theta.clone(),
            start: self.start.clone(),
            y: self.y.clone(),
            x: self.x.clone(),
            terms: self.terms.clone(),
            system: self.system.clone(),
            system_rows: self.system_rows.clone(),
            weights: self.weights.clone(),
            beta_ols: self.beta_ols.clone(),
            feval: 0,
            ls_workspace: WeightedGram::default(),
            gradient: None,
        };
        let theta = m.theta.clone();
        m.set_theta(&theta);
        m
    }

    /// Keep the rows' scatter positions for refills of the cross-products
    /// (PIRLS refills them at every step).
    pub fn prepare_refills(&mut self) {
        let terms = self.system_rows.as_deref().unwrap_or(&self.terms);
        self.cp.prepare_refills(terms);
    }

    /// Swap in a new response (offset already subtracted); the design stays.
    pub fn set_response(&mut self, y: Vec<f64>) {
        self.set_response_only(&y);
        let theta = self.theta.clone();
        self.set_theta(&theta);
    }

    /// [`LinearMixedModel::set_response`] without refactoring: the factor is
    /// stale until the next `set_theta`.
    pub fn set_response_only(&mut self, y: &[f64]) {
        let (n, p) = (self.n(), self.p());
        self.beta_ols = least_squares(&self.x, p, y, self.weights.as_deref(), &mut self.ls_workspace);
        let y_shift: Vec<f64> =
            (0..n).map(|i| y[i] - (0..p).map(|c| self.x[c * n + i] * self.beta_ols[c]).sum::<f64>()).collect();
        let terms = self.system_rows.as_deref().unwrap_or(&self.terms);
        self.cp.set_response(&self.x, &y_shift, self.weights.as_deref(), terms);
        self.y.copy_from_slice(y);
    }

    /// The response's cross-products Z'Wy (first term, then the rest) and
    /// y'Wy of a model without fixed effects (p = 0), whose cross-products
    /// involving y are exactly these.
    pub fn response_parts(&self) -> ResponseParts {
        debug_assert_eq!(self.p(), 0);
        ResponseParts { z0: self.cp.zxy0.clone(), rest: self.cp.zxy_rest.clone(), yy: self.cp.xyxy[0] }
    }

    /// Set the response's cross-products of a model without fixed effects
    /// (see [`LinearMixedModel::response_parts`]); the factor is stale until
    /// the next `set_theta`.
    pub fn set_response_parts(&mut self, parts: &ResponseParts) {
        debug_assert_eq!(self.p(), 0);
        self.cp.zxy0.copy_from_slice(&parts.z0);
        self.cp.zxy_rest.copy_from_slice(&parts.rest);
        self.cp.xyxy[0] = parts.yy;
    }

    /// Swap in new prior weights and response (a GLMM's working weights and
    /// working response at each PIRLS step); the design's structure stays.
    pub fn set_weights_and_response(&mut self, weights: &[f64], y: &[f64]) {
        let (n, p) = (self.n(), self.p());
        self.beta_ols = least_squares(&self.x, p, y, Some(weights), &mut self.ls_workspace);
        // y minus its weighted least-squares fit (see `new`), into self.y.
        self.y.copy_from_slice(y);
        for (c, b) in self.beta_ols.iter().enumerate() {
            for (v, x) in self.y.iter_mut().zip(&self.x[c * n..(c + 1) * n]) {
                *v -= x * b;
            }
        }
        let terms = self.system_rows.as_deref().unwrap_or(&self.terms);
        self.cp.fill(&self.x, &self.y, Some(weights), terms);
        // PIRLS uses the factor, not this objective: skip the n logs of
        // log|W| and make any objective computed from here on NaN.
        self.cp.log_weights = f64::NAN;
        match &mut self.weights {
            Some(w) => w.copy_from_slice(weights),
            None => self.weights = Some(weights.to_vec()),
        }
        self.y.copy_from_slice(y);
    }

    pub fn n(&self) -> usize {
        self.cp.n
    }

    /// The rows of the blocked system's terms (the cross-products' layout):
    /// the public terms, or the merged first block and the others (see
    /// [`SystemTerms`]).
    pub fn system_terms(&self) -> &[ReTerm] {
        self.system_rows.as_deref().unwrap_or(&self.terms)
    }

    pub fn p(&self) -> usize {
        self.cp.p
    }

    /// Refactor at `theta` (the one expensive step).
    pub fn set_theta(&mut self, theta: &[f64]) -> &mut Self {
        self.theta.copy_from_slice(theta);
        self.factor.update(&self.cp, &self.system, theta);
        self.feval += 1;
        self
    }

    pub fn pieces(&self) -> Pieces {
        self.factor.pieces(&self.cp)
    }

    /// The profiled deviance (ML) or REML criterion at the current theta:
    /// ML: log|L|^2 + n (1 + log(2 pi r^2 / n)); REML adds log|R_X|^2 and uses n - p.
    pub fn objective(&self) -> f64 {
        if !self.factor.ok {
            return f64::INFINITY;
        }
        objective_from(self.pieces(), self.n(), self.p(), self.reml, self.cp.log_weights)
    }

    /// Objective at `theta` (refactors).
    pub fn objective_at(&mut self, theta: &[f64]) -> f64 {
        self.set_theta(theta).objective()
    }

    /// The derivatives over theta of the objective's pieces at the current
    /// theta (see `gradient`), into `out`; false if the factor failed.
    pub fn gradient_pieces(&mut self, out: &mut GradientPieces) -> bool {
        if !self.factor.ok {
            return false;
        }
        let ws = self.gradient.get_or_insert_with(|| {
            Box::new(GradientWorkspace::new(&self.cp, &self.system, self.factor.l21_dense.is_some()))
        });
        ws.compute(&self.cp, &self.system, &mut self.factor, &self.theta, self.reml, out);
        true
    }

    /// The objective and its gradient at `theta` (refactors); an infinite
    /// objective (and a NaN gradient) where the factor fails.
    pub fn objective_gradient_at(&mut self, theta: &[f64], grad: &mut [f64], pieces: &mut GradientPieces) -> f64 {
        let f = self.objective_at(theta);
        if !f.is_finite() || !self.gradient_pieces(pieces) {
            grad.iter_mut().for_each(|g| *g = f64::NAN);
            return f64::INFINITY;
        }
        pieces.objective(self.pieces().pwrss, self.n(), self.p(), self.reml, grad);
        f
    }

    /// The gradient of the objective at the current theta (allocates; for use
    /// outside an optimizer loop).
    pub fn gradient(&mut self) -> Option<Vec<f64>> {
        let k = self.par.ntheta();
        let mut pieces = GradientPieces::zeros(k);
        if !self.gradient_pieces(&mut pieces) {
            return None;
        }
        let mut g = vec![0.0; k];
        pieces.objective(self.pieces().pwrss, self.n(), self.p(), self.reml, &mut g);
        Some(g)
    }

    /// sigma-hat: sqrt(r^2 / n) for ML, sqrt(r^2 / (n - p)) for REML.
    pub fn sigma(&self) -> f64 {
        let dof = if self.reml { self.n() - self.p() } else { self.n() };
        (self.pieces().pwrss / dof as f64).sqrt()
    }

    /// beta-hat for the shifted response: R_X' beta = the y row of L_XX (back substitution).
    fn beta_shifted(&self) -> Vec<f64> {
        let (p, k) = (self.p(), self.p() + 1);
        let l = &self.factor.lxx;
        let mut beta: Vec<f64> = (0..p).map(|i| l[i * k + p]).collect();
        // Solve L_pp' beta = l_yp, with L_pp the leading p x p block of L_XX.
        for i in (0..p).rev() {
            let mut s = beta[i];
            for t in i + 1..p {
                s -= l[i * k + t] * beta[t];
            }
            beta[i] = s / l[i * k + i];
        }
        beta
    }

    /// beta-hat on the scale of y (adding back the least-squares shift).
    pub fn beta(&self) -> Vec<f64> {
        self.beta_shifted().iter().zip(&self.beta_ols).map(|(a, b)| a + b).collect()
    }

    /// The spherical random effects u: L_Z' u = c_y - L_XZ' beta, back substitution
    /// through the rest block (u_R = S^{-1} (T_y - T_X beta)) and then the first term's levels.
    pub fn u(&self) -> Vec<f64> {
        let cp = &self.cp;
        let (q0, k, m, p) = (cp.q0, cp.p + 1, cp.m, cp.p);
        let beta = self.beta_shifted();
        let f = &self.factor;
        // Rest: rhs = lxr[:, p] - lxr[:, :p] beta
        let mut u_rest: Vec<f64> =
            (0..m).map(|r| f.lxr[p * m + r] - (0..p).map(|c| f.lxr[c * m + r] * beta[c]).sum::<f64>()).collect();
        f.rest.solve_fresh(&mut u_rest, 1);
        let mut u0 = vec![0.0; cp.l0 * q0];
        for j in 0..cp.l0 {
            let lx = &f.lx1[j * q0 * k..(j + 1) * q0 * k];
            let uj = &mut u0[j * q0..(j + 1) * q0];
            for t in 0..q0 {
                uj[t] = lx[p * q0 + t] - (0..p).map(|c| lx[c * q0 + t] * beta[c]).sum::<f64>();
            }
            for e in cp.level_cross(j) {
                let blk = cp.rest_blocks[e.block()];
                let l21 = &f.l21[e.values()..e.values() + blk.q * q0];
                for t in 0..q0 {
                    for r in 0..blk.q {
                        uj[t] -= l21[t * blk.q + r] * u_rest[blk.row + r];
                    }
                }
            }
            small::solve_lower_transpose(&f.l11[j * q0 * q0..(j + 1) * q0 * q0], q0, uj, 1);
        }
        u0.extend(u_rest);
        u0
    }

    /// The conditional modes b = Lambda u, one vector a term (level-major, q values a level).
    pub fn ranef(&self) -> Vec<Vec<f64>> {
        self.ranef_from_u(&self.u(), &self.theta)
    }

    /// The positions of public term `k`'s spherical effects in u (the
    /// blocked system's layout), level by level.
    pub fn u_indices(&self, k: usize) -> Vec<usize> {
        let (s, at) = self.system.locate(k);
        let start: usize = self.system.terms[..s].iter().map(|t| t.q * t.nlevels).sum();
        let (qs, q) = (self.system.terms[s].q, self.par.terms[k].q);
        (0..self.system.terms[s].nlevels).flat_map(|j| (0..q).map(move |c| start + j * qs + at + c)).collect()
    }

    /// b = Lambda(theta) u for spherical effects `u` in the blocked
    /// system's layout, one vector a public term (level-major).
    pub fn ranef_from_u(&self, u: &[f64], theta: &[f64]) -> Vec<Vec<f64>> {
        let mut system = Vec::with_capacity(self.system.terms.len());
        let mut offset = 0;
        for (s, t) in self.system.terms.iter().enumerate() {
            let mut lam = vec![0.0; t.q * t.q];
            self.system.fill_lambda(theta, s, &mut lam);
            let mut b = vec![0.0; t.q * t.nlevels];
            for j in 0..t.nlevels {
                for r in 0..t.q {
                    b[j * t.q + r] = (0..=r).map(|c| lam[c * t.q + r] * u[offset + j * t.q + c]).sum();
                }
            }
            offset += t.q * t.nlevels;
            system.push(b);
        }
        if self.system.merged == 1 {
            return system;
        }
        self.par.terms.iter().enumerate().map(|(k, t)| self.system.public_values(&system, k, t.q)).collect()
    }

    /// X beta + Z b (without the offset).
    pub fn linear_predictor(&self) -> Vec<f64> {
        let (n, p) = (self.n(), self.p());
        let beta = self.beta();
        let b = self.ranef();
        let mut eta = vec![0.0; n];
        for (c, bc) in beta.iter().enumerate() {
            for (e, xv) in eta.iter_mut().zip(&self.x[c * n..(c + 1) * n]) {
                *e += xv * bc;
            }
        }
        for (t, bt) in self.terms.iter().zip(&b) {
            let q = t.q();
            for (i, e) in eta.iter_mut().enumerate() {
                let j = t.refs[i] as usize;
                *e += t.z_row(i).iter().zip(&bt[j * q..(j + 1) * q]).map(|(z, bv)| z * bv).sum::<f64>();
            }
        }
        let _ = p;
        eta
    }

    /// Conditional covariances of the random effects given the data and
    /// theta, in units of sigma^2 (lme4's `condVar`): the diagonal blocks of
    /// Lambda (Lambda'Z'Z Lambda + I)^{-1} Lambda'. With the blocked factor,
    /// (A^{-1})_{jj} = L11_j^{-T} (I + L21_j' S^{-1} L21_j) L11_j^{-1} for a
    /// level j of the first term and S^{-1} = (L22 L22')^{-1} for the rest.
    /// One q x q block a level, per term.
    pub fn conditional_variances(&self) -> Vec<Vec<f64>> {
        let cp = &self.cp;
        let f = &self.factor;
        let q0 = cp.q0;
        let (quadratics, rest_blocks) = match f.rest.dense_inverse() {
            Some(sinv) => self.sinv_blocks_dense(&sinv),
            None => self.sinv_blocks_by_solves(),
        };
        let lambdas: Vec<Vec<f64>> = (0..self.system.terms.len())
            .map(|s| {
                let q = self.system.terms[s].q;
                let mut l = vec![0.0; q * q];
                self.system.fill_lambda(&self.theta, s, &mut l);
                l
            })
            .collect();
        let sandwich = |lam: &[f64], a: &[f64], q: usize| -> Vec<f64> {
            // lam a lam'
            let mut out = vec![0.0; q * q];
            for i in 0..q {
                for j in 0..q {
                    let mut v = 0.0;
                    for r in 0..q {
                        for c in 0..q {
                            v += lam[r * q + i] * a[c * q + r] * lam[c * q + j];
                        }
                    }
                    out[j * q + i] = v;
                }
            }
            out
        };
        let mut out = Vec::with_capacity(self.terms.len());
        // First term.
        let mut first = Vec::with_capacity(cp.l0 * q0 * q0);
        for j in 0..cp.l0 {
            let mut inner = vec![0.0; q0 * q0];
            for d in 0..q0 {
                inner[d * q0 + d] = 1.0;
            }
            for (v, qv) in inner.iter_mut().zip(&quadratics[j * q0 * q0..(j + 1) * q0 * q0]) {
                *v += qv;
            }
            // L11^{-T} inner L11^{-1}
            let l11 = &f.l11[j * q0 * q0..(j + 1) * q0 * q0];
            small::solve_lower_transpose(l11, q0, &mut inner, q0);
            let mut t = vec![0.0; q0 * q0];
            for r in 0..q0 {
                for c in 0..q0 {
                    t[r * q0 + c] = inner[c * q0 + r];
                }
            }
            small::solve_lower_transpose(l11, q0, &mut t, q0);
            first.extend(sandwich(&lambdas[0], &t, q0));
        }
        out.push(first);
        // The rest.
        let mut offset = 0;
        for (s, t) in self.system.terms.iter().enumerate().skip(1) {
            let q = t.q;
            let mut blocks = Vec::with_capacity(t.nlevels * q * q);
            for _ in 0..t.nlevels {
                blocks.extend(sandwich(&lambdas[s], &rest_blocks[offset..offset + q * q], q));
                offset += q * q;
            }
            out.push(blocks);
        }
        if self.system.merged == 1 {
            return out;
        }
        // A merged first block: each public term's diagonal block of it.
        (0..self.par.terms.len())
            .map(|k| {
                let (s, at) = self.system.locate(k);
                let (q, qs) = (self.par.terms[k].q, self.system.terms[s].q);
                if q == qs {
                    return out[s].clone();
                }
                out[s]
                    .chunks_exact(qs * qs)
                    .flat_map(|level| (0..q).flat_map(move |c| (0..q).map(move |r| level[(at + c) * qs + at + r])))
                    .collect()
            })
            .collect()
    }

    /// From a dense S^{-1}: L21_j' S^{-1} L21_j for each first-term level j
    /// (q0 x q0 each) and S^{-1}'s diagonal blocks for each rest block.
    fn sinv_blocks_dense(&self, sinv: &[f64]) -> (Vec<f64>, Vec<f64>) {
        let cp = &self.cp;
        let (q0, m) = (cp.q0, cp.m);
        let l21 = &self.factor.l21;
        let mut quadratics = vec![0.0; cp.l0 * q0 * q0];
        for j in 0..cp.l0 {
            let out = &mut quadratics[j * q0 * q0..(j + 1) * q0 * q0];
            let entries = cp.level_cross(j);
            for ea in entries {
                let ba = cp.rest_blocks[ea.block()];
                let la = &l21[ea.values()..ea.values() + ba.q * q0];
                for eb in entries {
                    let bb = cp.rest_blocks[eb.block()];
                    let lb = &l21[eb.values()..eb.values() + bb.q * q0];
                    for s in 0..q0 {
                        for t in 0..q0 {
                            let mut v = 0.0;
                            for ra in 0..ba.q {
                                for rb in 0..bb.q {
                                    v += la[s * ba.q + ra] * sinv[(bb.row + rb) * m + ba.row + ra] * lb[t * bb.q + rb];
                                }
                            }
                            out[t * q0 + s] += v;
                        }
                    }
                }
            }
        }
        let mut blocks = Vec::new();
        for b in &cp.rest_blocks {
            for c in 0..b.q {
                for r in 0..b.q {
                    blocks.push(sinv[(b.row + c) * m + b.row + r]);
                }
            }
        }
        (quadratics, blocks)
    }

    /// As [`Self::sinv_blocks_dense`] for sparse S, by solves with batches of
    /// right-hand sides (S^{-1} itself would be dense).
    fn sinv_blocks_by_solves(&self) -> (Vec<f64>, Vec<f64>) {
        const BATCH: usize = 64;
        let cp = &self.cp;
        let (q0, m) = (cp.q0, cp.m);
        let (l21, rest) = (&self.factor.l21, &self.factor.rest);
        let mut quadratics = vec![0.0; cp.l0 * q0 * q0];
        let levels: Vec<usize> = (0..cp.l0).collect();
        for chunk in levels.chunks(BATCH) {
            let k = chunk.len() * q0;
            let mut rhs = vec![0.0; m * k];
            for (c, &j) in chunk.iter().enumerate() {
                for e in cp.level_cross(j) {
                    let b = cp.rest_blocks[e.block()];
                    for t in 0..q0 {
                        for r in 0..b.q {
                            rhs[(c * q0 + t) * m + b.row + r] = l21[e.values() + t * b.q + r];
                        }
                    }
                }
            }
            rest.solve_fresh(&mut rhs, k);
            for (c, &j) in chunk.iter().enumerate() {
                let out = &mut quadratics[j * q0 * q0..(j + 1) * q0 * q0];
                for e in cp.level_cross(j) {
                    let b = cp.rest_blocks[e.block()];
                    for s in 0..q0 {
                        for t in 0..q0 {
                            for r in 0..b.q {
                                out[t * q0 + s] += l21[e.values() + s * b.q + r] * rhs[(c * q0 + t) * m + b.row + r];
                            }
                        }
                    }
                }
            }
        }
        let mut blocks = Vec::new();
        for chunk in cp.rest_blocks.chunks(BATCH) {
            let k: usize = chunk.iter().map(|b| b.q).sum();
            let mut rhs = vec![0.0; m * k];
            let mut col = 0;
            for b in chunk {
                for c in 0..b.q {
                    rhs[(col + c) * m + b.row + c] = 1.0;
                }
                col += b.q;
            }
            rest.solve_fresh(&mut rhs, k);
            let mut col = 0;
            for b in chunk {
                for c in 0..b.q {
                    for r in 0..b.q {
                        blocks.push(rhs[(col + c) * m + b.row + r]);
                    }
                }
                col += b.q;
            }
        }
        (quadratics, blocks)
    }

    /// (R_X' R_X)^{-1}: the covariance of beta-hat in units of sigma^2.
    pub fn unscaled_vcov(&self) -> Vec<f64> {
        self.factor.unscaled_vcov(self.p())
    }
}

/// The check of [`LinearMixedModel::check_response_varies`] from its sums:
/// `rss` the weighted residual sum of squares of y on X, `yss` y's weighted
/// sum of squares, `underflows` when yss is zero although y is not.
pub fn check_variation(rss: f64, yss: f64, underflows: bool) -> Result<()> {
    if !rss.is_finite() || !yss.is_finite() || underflows {
        return Err(Error::Numerical(
            "the response's sum of squares is beyond double precision (too large or too small): rescale the \
             response"
                .into(),
        ));
    }
    if rss <= 1e-24 * yss || rss == 0.0 {
        return Err(Error::Data(
            "the response is fitted exactly by the fixed effects (is it constant?): there is no residual \
             variance to estimate"
                .into(),
        ));
    }
    Ok(())
}

/// Weighted least-squares coefficients of y on X (zero where X is empty);
/// `workspace` keeps its buffers between calls (PIRLS calls this every step).
fn least_squares(x: &[f64], p: usize, y: &[f64], w: Option<&[f64]>, workspace: &mut WeightedGram) -> Vec<f64> {
    let n = y.len();
    workspace.compute_gram(x, n, p, w);
    workspace.compute_xty(x, n, p, w, y);
    let xty = &workspace.xty;
    match linalg::inverse_spd(&workspace.gram, p) {
        Some(inv) => (0..p).map(|r| (0..p).map(|c| inv[c * p + r] * xty[c]).sum()).collect(),
        None => vec![0.0; p],
    }
}

/// The profiled objective from its pieces (lme4's `lmerResp::Laplace`),
/// `log_weights` the sum of log prior weights.
pub fn objective_from(pc: Pieces, n: usize, p: usize, reml: bool, log_weights: f64) -> f64 {
    if reml {
        let nmp = (n - p) as f64;
        pc.ld_l2 - log_weights + pc.ld_rx2 + nmp * (1.0 + LOG_2PI + (pc.pwrss / nmp).ln())
    } else {
        let nf = n as f64;
        pc.ld_l2 - log_weights + nf * (1.0 + LOG_2PI + (pc.pwrss / nf).ln())
    }
}
