//! Errors of the core crate: one enum, each variant a kind of failure the
//! Python bindings map onto an exception class.

use std::fmt;

/// Everything that can go wrong while building or fitting a model.
#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    /// The formula does not parse or asks for something impossible.
    /// `position` is a byte offset into `formula`.
    Formula { formula: String, position: usize, message: String },
    /// A column is missing, of the wrong kind, or holds values the model cannot use.
    Column { column: String, message: String },
    /// The data as a whole cannot support the model (too few rows, one level, ...).
    Data(String),
    /// A numerical failure that the user's input made unavoidable.
    Numerical(String),
    /// An argument outside its domain (a negative number of bootstrap draws, ...).
    Argument(String),
    /// The fit was stopped on request (its progress observer asked to stop).
    Interrupted(String),
}

impl Error {
    pub fn formula(formula: &str, position: usize, message: impl Into<String>) -> Self {
        Error::Formula { formula: formula.to_string(), position, message: message.into() }
    }

    pub fn column(column: &str, message: impl Into<String>) -> Self {
        Error::Column { column: column.to_string(), message: message.into() }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Formula { formula, position, message } => {
                // Point at the offending character, as a compiler does.
                let col = formula[..(*position).min(formula.len())].chars().count();
                write!(f, "{message} (at position {col} of the formula)\n  {formula}\n  {}^", " ".repeat(col))
            }
            Error::Column { column, message } => write!(f, "column '{column}': {message}"),
            Error::Data(m) | Error::Numerical(m) | Error::Argument(m) | Error::Interrupted(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;

/// Return early with an [`Error::Data`] when a condition fails.
#[macro_export]
macro_rules! ensure_data {
    ($cond:expr, $($arg:tt)+) => {
        if !$cond {
            return Err($crate::Error::Data(format!($($arg)+)));
        }
    };
}
