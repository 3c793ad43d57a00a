//! Simulation from a fitted model (R's `simulate.merMod`). Each replicate
//! draws from its own generator seeded from (seed, replicate), so results do
//! not depend on how replicates are spread over threads.

use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use rand_distr::StandardNormal;

use crate::lmer::Lmer;

/// The generator of replicate `i` for a given seed (SplitMix-style mixing).
pub fn replicate_rng(seed: u64, i: u64) -> Xoshiro256PlusPlus {
    let mut z = seed ^ i.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    Xoshiro256PlusPlus::seed_from_u64(z ^ (z >> 31))
}

/// One simulated response: X beta + offset + Z b + sigma e / sqrt(w). With
/// `use_re` the random effects are the conditional modes b-hat (simulating
/// given the groups seen); otherwise new b = sigma Lambda u, u ~ N(0, I).
pub fn simulate_response(m: &Lmer, use_re: bool, rng: &mut Xoshiro256PlusPlus) -> Vec<f64> {
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
        let b: Vec<f64> = if use_re {
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

/// `nsim` simulated responses.
pub fn simulate(m: &Lmer, nsim: usize, use_re: bool, seed: u64) -> Vec<Vec<f64>> {
    (0..nsim).map(|i| simulate_response(m, use_re, &mut replicate_rng(seed, i as u64))).collect()
}
