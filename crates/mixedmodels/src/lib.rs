//! # mixedmodels
//!
//! Linear mixed-effects models as lme4 fits them (Bates, Maechler, Bolker and
//! Walker 2015, JSS 67(1)), with the blocked Cholesky factorization of
//! MixedModels.jl, in pure Rust.

pub mod error;
pub mod formula;

pub use error::{Error, Result};
pub mod data;
pub mod design;
pub mod fit;
pub mod glmer;
pub mod glmm;
pub mod inference;
pub mod linalg;
pub mod lmer;
pub mod model;
pub mod optim;
pub mod resample;
