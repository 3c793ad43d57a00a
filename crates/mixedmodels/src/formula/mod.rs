//! lme4's formula language: tokens, the expression tree, and the expansion
//! into fixed-effects terms and random-effects bars.

mod ast;
mod lexer;
mod parser;
mod terms;

pub use ast::{format_r_number, is_r_constant, Arg, Expr, ExprKind};
pub use parser::parse;
pub use terms::{Bar, ModelFormula, Term, TermList, Variable};
