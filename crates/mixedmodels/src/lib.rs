//! # mixedmodels
//!
//! Linear mixed-effects models as lme4 fits them (Bates, Maechler, Bolker and
//! Walker 2015, JSS 67(1)), with the blocked Cholesky factorization of
//! MixedModels.jl, in pure Rust. Generalized models follow lme4's `glmer`
//! (PIRLS, Laplace and adaptive Gauss-Hermite quadrature). The Python package
//! `mixedmodels` is a thin layer over this crate; Rust programs use it directly.
//!
//! # Example
//!
//! ```
//! use mixedmodels::data::DataFrame;
//! use mixedmodels::glmer::{Glmer, GlmerOptions};
//! use mixedmodels::glmm::Family;
//! use mixedmodels::lmer::{Lmer, LmerOptions};
//!
//! // Ten subjects, eight days each: a subject-specific intercept and slope.
//! let n = 80;
//! let subject: Vec<String> = (0..n).map(|i| format!("s{}", i / 8)).collect();
//! let days: Vec<f64> = (0..n).map(|i| (i % 8) as f64).collect();
//! let noise = |i: usize| ((i * 37 + 11) % 17) as f64 / 17.0 - 0.5;
//! let reaction: Vec<f64> = (0..n)
//!     .map(|i| 250.0 + (i / 8) as f64 * 3.0 + days[i] * (10.0 + (i / 8 % 3) as f64) + 8.0 * noise(i))
//!     .collect();
//! let data = DataFrame::new()
//!     .with_numeric("Reaction", reaction)?
//!     .with_numeric("Days", days.clone())?
//!     .with_labels("Subject", &subject)?;
//!
//! // REML fit with Satterthwaite df, as lmer + lmerTest.
//! let m = Lmer::fit("Reaction ~ Days + (Days | Subject)", &data, &LmerOptions::default())?;
//! assert_eq!(m.fixed_names, ["(Intercept)", "Days"]);
//! assert_eq!(m.sd_cor_names(), ["sd_(Intercept)|Subject", "cor_Days.(Intercept)|Subject", "sd_Days|Subject"]);
//! let df = m.fit.df.as_ref().expect("Satterthwaite df are computed by default");
//! assert!(df[1] > 1.0 && df[1] < 80.0);
//!
//! // A Poisson GLMM by the Laplace approximation, as glmer.
//! let counts: Vec<f64> = (0..n).map(|i| ((i * 7 + i / 8) % 5) as f64).collect();
//! let data = data.with_numeric("count", counts)?;
//! let options = GlmerOptions { family: Family::parse("poisson", None)?, ..GlmerOptions::default() };
//! let g = Glmer::fit("count ~ Days + (1 | Subject)", &data, &options)?;
//! assert_eq!(g.fit.beta.len(), 2);
//! assert!(g.fit.loglik.is_finite());
//! # Ok::<(), mixedmodels::Error>(())
//! ```
//!
//! # Where things are
//!
//! - [`formula`]: lme4's formula language (lexer, Pratt parser, term expansion).
//! - [`data`], [`design`]: columns in, model matrices `X` and `Z` out, with R's
//!   contrasts, full-rank rules and coefficient names; [`setup`]: the stage
//!   every fit starts with (the rows used, the design, the prior weights).
//! - [`model`]: the blocked cross-products and their Cholesky factor, the
//!   profiled (RE)ML criterion.
//! - [`fit`], [`lmer`]: optimisation with BOBYQA ([`optim`]) and the results of
//!   a linear mixed model; [`inference`]: Satterthwaite, Kenward-Roger and
//!   profile intervals; [`resample`]: the parametric bootstrap;
//!   [`permutation`]: permutation tests of the fixed effects;
//!   [`residuals`]: residuals by kind.
//! - [`glmm`], [`glmer`]: families, PIRLS, quadrature and the glmer fit.
//! - [`all_fit`]: a model refitted with every optimizer (lme4's `allFit`).
//! - [`fitted`]: what both kinds of fit answer (the [`fitted::MixedFit`] trait).
//! - [`lm`]: linear, generalized linear and two-stage models without random
//!   effects (pymer4's `Lm` and `Lm2`), with sandwich covariances, permutation
//!   tests and the case bootstrap ([`shuffle`] draws the rows).
//! - [`linalg`]: small dense kernels on top of faer.

pub mod error;
pub mod formula;

pub use error::{Error, Result};
pub mod all_fit;
pub mod data;
pub mod design;
pub mod diagnostics;
pub mod fit;
pub mod fitted;
pub mod glmer;
pub mod glmm;
pub mod inference;
pub mod linalg;
pub mod lm;
pub mod lmer;
pub mod model;
pub mod optim;
pub mod permutation;
pub mod resample;
pub mod residuals;
pub mod setup;
pub mod shuffle;
pub mod sums;
