//! The common start of a stage's PIRLS runs. lme4 restarts PIRLS from the
//! same linear predictor at every evaluation of the deviance, so the first
//! step's working weights and response, and the weighted cross-products they
//! give, are the same every time: computed once here, in a system of their
//! own, only the factor (theta) is redone. In the modes-only stage the working
//! response also depends on beta (z - X beta), and its cross-products are
//! linear in beta: they are combined from stored parts, with no pass over the
//! rows.

use super::pirls::{Mode, Pirls, PirlsState};
use crate::error::{Error, Result};
use crate::model::{LinearMixedModel, ResponseParts};

pub struct PirlsStart {
    /// The state PIRLS starts from (eta, mu, beta, u).
    pub state: PirlsState,
    pub mode: Mode,
    /// The mode's weighted system at the start's working weights and response.
    pub system: LinearMixedModel,
    /// Modes-only: the response parts at beta = state.beta, those of each
    /// fixed-effect column x_c, x_c'W(z - X beta) and X'WX.
    modes: Option<ModesParts>,
}

#[derive(Clone)]
struct ModesParts {
    at_start: ResponseParts,
    columns: Vec<ResponseParts>,
    xw_response: Vec<f64>,
    xwx: Vec<f64>,
}

impl PirlsStart {
    /// An independent copy (one a thread).
    pub fn replicate(&self) -> PirlsStart {
        PirlsStart {
            state: self.state.clone(),
            mode: self.mode,
            system: self.system.replicate(),
            modes: self.modes.clone(),
        }
    }

    /// The system of the first PIRLS step from this start, for fixed effects
    /// `beta` (used by the modes-only stage; the joint stage estimates beta).
    pub fn first_system(&mut self, beta: &[f64]) -> &mut LinearMixedModel {
        if let Some(parts) = &self.modes {
            // z - X beta = (z - X beta_s) - X d with d = beta - beta_s.
            let d: Vec<f64> = beta.iter().zip(&self.state.beta).map(|(b, s)| b - s).collect();
            let mut r = parts.at_start.clone();
            for (dc, col) in d.iter().zip(&parts.columns) {
                r.add_scaled(-dc, col);
            }
            let p = d.len();
            let xwx_d: f64 = (0..p).map(|i| (0..p).map(|j| d[i] * parts.xwx[j * p + i] * d[j]).sum::<f64>()).sum();
            let cross: f64 = d.iter().zip(&parts.xw_response).map(|(a, b)| a * b).sum();
            r.yy = parts.at_start.yy - 2.0 * cross + xwx_d;
            self.system.set_response_parts(&r);
        }
        &mut self.system
    }
}

impl Pirls {
    /// Prepare the start of a stage's runs at `state`.
    pub fn prepare_start(&self, state: PirlsState, mode: Mode) -> Result<PirlsStart> {
        let n = self.resp.n();
        let (mut w, mut z) = (vec![0.0; n], vec![0.0; n]);
        if !self.working(&state.eta, &state.mu, &mut w, &mut z) {
            return Err(Error::Numerical("PIRLS produced non-positive or non-finite working weights".into()));
        }
        let (mut system, modes) = match mode {
            Mode::Joint => {
                let mut system = self.joint.replicate();
                system.set_weights_and_response(&w, &z);
                (system, None)
            }
            Mode::ModesOnly => {
                let mut system = self.modes.replicate();
                let p = self.p;
                let column = |c: usize| &self.x[c * n..(c + 1) * n];
                // The working response at the start's beta.
                let xb = self.x_times(&state.beta);
                z.iter_mut().zip(&xb).for_each(|(v, b)| *v -= b);
                let mut columns = Vec::with_capacity(p);
                system.set_weights_and_response(&w, &z);
                for c in 0..p {
                    system.set_response_only(column(c));
                    columns.push(system.response_parts());
                }
                system.set_response_only(&z);
                let at_start = system.response_parts();
                let xw_response = (0..p).map(|c| (0..n).map(|i| column(c)[i] * w[i] * z[i]).sum()).collect();
                let mut xwx = vec![0.0; p * p];
                for a in 0..p {
                    for b in 0..p {
                        xwx[b * p + a] = (0..n).map(|i| column(a)[i] * w[i] * column(b)[i]).sum();
                    }
                }
                (system, Some(ModesParts { at_start, columns, xw_response, xwx }))
            }
        };
        let theta = system.theta.clone();
        system.set_theta(&theta);
        Ok(PirlsStart { state, mode, system, modes })
    }
}
