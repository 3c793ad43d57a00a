//! Simulation from a fitted model (R's `simulate.merMod`) and the parametric
//! bootstrap (lme4's `bootMer`). Each replicate draws from its own generator
//! seeded from (seed, replicate), so results do not depend on how replicates
//! are spread over threads. A refit changes only the response: the
//! cross-products of Z and X are kept and only the y column is recomputed.

use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use rand_distr::StandardNormal;

use rayon::prelude::*;

use crate::fit::optimize;
use crate::lmer::Lmer;
use crate::model::LinearMixedModel;
use crate::optim::OptimizerSettings;

/// The generator of a replicate.
pub type Rng = Xoshiro256PlusPlus;

/// The generator of replicate `i` for a given seed (SplitMix-style mixing).
pub fn replicate_rng(seed: u64, i: u64) -> Xoshiro256PlusPlus {
    let mut z = seed ^ i.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    Xoshiro256PlusPlus::seed_from_u64(z ^ (z >> 31))
}

/// One simulated response: X beta + offset + Z b + sigma e / sqrt(w). The
/// random effects of a term `conditioned` on are its conditional modes b-hat
/// (simulating given the groups seen); the others are new, b = sigma Lambda u,
/// u ~ N(0, I).
pub fn simulate_response(m: &Lmer, conditioned: &[bool], rng: &mut Xoshiro256PlusPlus) -> Vec<f64> {
    let model = &m.model;
    let fit = &m.fit;
    let n = model.n();
    let mut y = vec![0.0; n];
    for (c, b) in fit.beta.iter().enumerate() {
        for (v, x) in y.iter_mut().zip(&model.x[c * n..(c + 1) * n]) {
            *v += x * b;
        }
    }
    if let Some(o) = &m.offset {
        y.iter_mut().zip(o).for_each(|(v, ov)| *v += ov);
    }
    for (k, t) in model.terms.iter().enumerate() {
        let q = t.q();
        let b: Vec<f64> = if conditioned[k] {
            fit.ranef[k].clone()
        } else {
            let mut lam = vec![0.0; q * q];
            model.par.fill_lambda(&fit.theta, k, &mut lam);
            let mut b = vec![0.0; q * t.nlevels()];
            for j in 0..t.nlevels() {
                let u: Vec<f64> = (0..q).map(|_| rng.sample::<f64, _>(StandardNormal)).collect();
                for r in 0..q {
                    b[j * q + r] = fit.sigma * (0..q).map(|c| lam[c * q + r] * u[c]).sum::<f64>();
                }
            }
            b
        };
        for (i, v) in y.iter_mut().enumerate() {
            let j = t.refs[i] as usize;
            *v += t.z_row(i).iter().zip(&b[j * q..(j + 1) * q]).map(|(z, bv)| z * bv).sum::<f64>();
        }
    }
    for (i, v) in y.iter_mut().enumerate() {
        let w = model.weights.as_ref().map_or(1.0, |w| w[i]);
        *v += fit.sigma * rng.sample::<f64, _>(StandardNormal) / w.sqrt();
    }
    y
}

/// `nsim` simulated responses, conditioned on the random effects of the
/// terms flagged in `conditioned` (one flag a term).
pub fn simulate(m: &Lmer, nsim: usize, conditioned: &[bool], seed: u64) -> Vec<Vec<f64>> {
    (0..nsim).map(|i| simulate_response(m, conditioned, &mut replicate_rng(seed, i as u64))).collect()
}

/// Estimates from one bootstrap refit.
#[derive(Debug, Clone, PartialEq)]
pub struct Replicate {
    pub theta: Vec<f64>,
    pub sigma: f64,
    pub beta: Vec<f64>,
    /// lme4's sd/cor scale for the random effects (see `Parameterization::sd_cor`).
    pub sd_cor: Vec<f64>,
    pub objective: f64,
    /// Objective evaluations the refit took.
    pub feval: usize,
}

/// Parametric bootstrap: replicates `first..first + count` (so a caller can
/// run them in chunks and still get the same draws), each a response
/// simulated with new random effects and refitted from theta-hat, in
/// parallel. A replicate whose refit fails is `None`.
pub fn parametric_bootstrap(m: &Lmer, first: u64, count: usize, seed: u64) -> Vec<Option<Replicate>> {
    let threads = rayon::current_num_threads().max(1);
    let indices: Vec<u64> = (first..first + count as u64).collect();
    let chunk = indices.len().div_ceil(threads).max(1);
    indices
        .par_chunks(chunk)
        .flat_map_iter(|idx| {
            let mut model = m.model.replicate();
            idx.iter().map(|&i| refit_replicate(m, &mut model, i, seed)).collect::<Vec<_>>()
        })
        .collect()
}

/// A replicate's optimum lies within a few standard errors of theta-hat,
/// where the refit starts: a smaller first trust region than a cold start's,
/// and 1e-5 on theta is far inside the bootstrap's own Monte Carlo error.
pub(crate) fn refit_settings(m: &Lmer) -> OptimizerSettings {
    OptimizerSettings { rho_begin: 0.05, rho_end: 1e-5, ..m.options.fit.optimizer }
}

fn refit_replicate(m: &Lmer, model: &mut LinearMixedModel, i: u64, seed: u64) -> Option<Replicate> {
    let new_effects = vec![false; m.model.terms.len()];
    let mut y = simulate_response(m, &new_effects, &mut replicate_rng(seed, i));
    if let Some(o) = &m.offset {
        y.iter_mut().zip(o).for_each(|(v, ov)| *v -= ov);
    }
    model.set_response(y);
    let opt = optimize(model, &m.fit.theta, refit_settings(m)).ok()?;
    if !model.factor.ok {
        return None;
    }
    let sigma = model.sigma();
    Some(Replicate {
        sd_cor: model.par.sd_cor(&opt.final_theta, sigma),
        theta: opt.final_theta,
        sigma,
        beta: model.beta(),
        objective: opt.fmin,
        feval: opt.feval,
    })
}
