//! Leverage of a linear mixed model (Demidenko and Stukel 2005; Nobre and
//! Singer 2011), HLMdiag's four kinds, for the rows scaled by sqrt(w):
//!
//! ```text
//!   H1 = X C X' V0^{-1}                 fixef:    (H1)_ii = x_i' C h_i,  h_i = (V0^{-1} X)_i
//!   H2 = Z D Z' V^{-1} (I - H1)         ranef:    overall - fixef
//!   H1 + H2                             overall:  1 - P0_ii = k_i' Gamma k_i
//!   Z D Z' / sigma^2                    ranef.uc: |Lambda' z_i|^2
//! ```
//!
//! k_i = [Lambda' z_i; x_i] is row i of the joint system [Z Lambda, X] and
//! Gamma its joint inverse (see `inverse`): the overall leverage is the hat
//! value of the penalized least-squares fit. h_i = x_i - U' Lambda' z_i, U =
//! A^{-1} Lambda'Z'X.

use super::rows::Coord;

/// The four leverages of one row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Leverage {
    pub overall: f64,
    pub fixef: f64,
    pub ranef: f64,
    pub ranef_uc: f64,
}

/// Leverages of a row from its k'Gamma k, its x_i and m_i = Lambda' z_i, U
/// (q x p) and C (p x p).
pub fn row_leverage(k_gamma_k: f64, x: &[f64], m: &[Coord], u: &[f64], q: usize, c: &[f64]) -> Leverage {
    let p = x.len();
    let h: Vec<f64> =
        (0..p).map(|col| x[col] - m.iter().map(|&(coord, v)| v * u[col * q + coord]).sum::<f64>()).collect();
    let fixef: f64 = (0..p).map(|a| x[a] * (0..p).map(|b| c[b * p + a] * h[b]).sum::<f64>()).sum();
    Leverage { overall: k_gamma_k, fixef, ranef: k_gamma_k - fixef, ranef_uc: m.iter().map(|(_, v)| v * v).sum() }
}

/// Group leverage: the mean of its rows' (HLMdiag's `leverage(level = g)`).
pub fn group_mean(rows: &[Leverage], members: &[usize]) -> Leverage {
    let k = members.len() as f64;
    let sum = |f: fn(&Leverage) -> f64| members.iter().map(|&i| f(&rows[i])).sum::<f64>() / k;
    Leverage {
        overall: sum(|l| l.overall),
        fixef: sum(|l| l.fixef),
        ranef: sum(|l| l.ranef),
        ranef_uc: sum(|l| l.ranef_uc),
    }
}
