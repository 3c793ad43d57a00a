//! Inference on a fitted linear mixed model: derivatives at the optimum and
//! Satterthwaite's degrees of freedom.

pub mod derivatives;
pub mod satterthwaite;

pub use derivatives::{derivatives, Derivatives};
