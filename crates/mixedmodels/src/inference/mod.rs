//! Inference on a fitted linear mixed model: derivatives at the optimum and
//! Satterthwaite's and Kenward-Roger's degrees of freedom.

pub mod derivatives;
pub mod kenward_roger;
pub mod profile;
pub mod satterthwaite;

pub use derivatives::{derivatives, Derivatives};
pub use kenward_roger::{KenwardRoger, KrTest};
