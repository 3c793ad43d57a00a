//! Simulation from a fitted GLMM (R's `simulate.merMod` for glmer fits):
//! new responses from the family at the fitted means, with the estimated
//! random effects or new ones, each replicate drawing from its own generator.

use rand::RngExt;
use rand_distr::{Binomial, Distribution as _, Gamma, InverseGaussian, Poisson, StandardNormal};

use super::Distribution;
use crate::glmer::Glmer;
use crate::resample::{replicate_rng, Rng};

impl Glmer {
    /// `nsim` simulated responses from the fitted model (on the response's
    /// scale: proportions for a binomial model), with the estimated random
    /// effects of the terms flagged in `conditioned` (one flag a term) and new
    /// ones for the others. Replicate i draws from its own generator seeded
    /// by (seed, i).
    pub fn simulate(&self, nsim: usize, conditioned: &[bool], seed: u64) -> Vec<Vec<f64>> {
        (0..nsim).map(|s| self.simulate_one(conditioned, &mut replicate_rng(seed, s as u64))).collect()
    }

    /// One simulated response (see [`Glmer::simulate`]).
    pub fn simulate_one(&self, conditioned: &[bool], rng: &mut Rng) -> Vec<f64> {
        let r = &self.pirls.resp;
        let fam = self.fit.family;
        let disp = self.fit.sigma * self.fit.sigma;
        let mut u = self.fit.u.clone();
        // u is in the blocked system's layout: a term's effects by `u_indices`.
        for (k, &keep) in conditioned.iter().enumerate() {
            if !keep {
                for i in self.pirls.modes.u_indices(k) {
                    u[i] = rng.sample::<f64, _>(StandardNormal);
                }
            }
        }
        let eta = self.pirls.linear_predictor(&self.fit.theta, &self.fit.beta, &u);
        (0..r.n())
            .map(|i| {
                let mu = fam.linkinv(eta[i]);
                match fam.dist {
                    Distribution::Binomial => {
                        let trials = r.trials[i].round().max(1.0) as u64;
                        let draws =
                            Binomial::new(trials, mu.clamp(0.0, 1.0)).map_or(0.0, |d| d.sample(&mut *rng) as f64);
                        draws / trials as f64
                    }
                    Distribution::Poisson => Poisson::new(mu).map_or(0.0, |d| d.sample(&mut *rng)),
                    Distribution::Gamma => Gamma::new(1.0 / disp, mu * disp).map_or(f64::NAN, |d| d.sample(&mut *rng)),
                    Distribution::InverseGaussian => {
                        InverseGaussian::new(mu, 1.0 / disp).map_or(f64::NAN, |d| d.sample(&mut *rng))
                    }
                    // rnbinom(size = theta, mu): Poisson with a Gamma(theta, mu / theta) mean.
                    Distribution::NegativeBinomial { theta } => Gamma::new(theta, mu / theta)
                        .ok()
                        .map(|g| g.sample(&mut *rng))
                        .and_then(|lambda| Poisson::new(lambda).ok())
                        .map_or(0.0, |d| d.sample(&mut *rng)),
                }
            })
            .collect()
    }
}
