//! Generalized linear mixed models: families and links, the response as R
//! accepts it, penalized iteratively reweighted least squares and adaptive
//! Gauss-Hermite quadrature. The fit itself is `crate::glmer`.

pub mod bootstrap;
pub mod deviance;
pub mod family;
pub mod negbin;
pub mod pirls;
pub mod quadrature;
pub mod response;
pub mod rows;
pub mod saved;
pub mod simulate;
pub mod start;

pub use family::{Distribution, Family, Link};
pub use pirls::{GlmmResponse, Mode, Pirls, PirlsState};
pub use saved::GlmmEstimates;
pub use start::PirlsStart;
