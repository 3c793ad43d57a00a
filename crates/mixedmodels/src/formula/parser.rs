//! A Pratt parser for R's formula syntax, with R's operator precedence
//! (`?Syntax`): `^` > unary `- +` > `:` > `%in%` > `* /` > binary `+ -` >
//! comparisons > `!` > `& &&` > `| ||` > `~`.

use super::ast::{Arg, Expr, ExprKind};
use super::lexer::{tokenize, Tok, Token};
use crate::error::{Error, Result};

/// Left and right binding power of a binary operator (higher binds tighter;
/// right < left makes it right-associative).
fn binding_power(op: &str) -> Option<(u8, u8)> {
    Some(match op {
        "~" => (2, 3),
        "|" | "||" => (4, 5),
        "&" | "&&" => (6, 7),
        "<" | ">" | "<=" | ">=" | "==" | "!=" => (10, 11),
        "+" | "-" => (12, 13),
        "*" | "/" => (14, 15),
        "%in%" => (16, 17),
        ":" => (18, 19),
        "^" => (23, 22),
        _ => return None,
    })
}

const UNARY_MINUS_BP: u8 = 20;
const NOT_BP: u8 = 8;
const TILDE_BP: u8 = 3;

pub struct Parser<'a> {
    src: &'a str,
    toks: Vec<Token>,
    at: usize,
}

/// Parse a whole formula (or any R expression) into a tree.
pub fn parse(src: &str) -> Result<Expr> {
    let toks = tokenize(src)?;
    if toks.is_empty() {
        return Err(Error::formula(src, 0, "the formula is empty"));
    }
    let mut p = Parser { src, toks, at: 0 };
    let e = p.expr(0)?;
    if let Some(t) = p.peek() {
        return Err(Error::formula(src, t.pos, format!("unexpected {}", describe(&t.tok))));
    }
    Ok(e)
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Name(n) => format!("name '{n}'"),
        Tok::Number(v) => format!("number {v}"),
        Tok::Str(s) => format!("string \"{s}\""),
        Tok::Op(o) => format!("'{o}'"),
        Tok::Special(o) => format!("operator '{o}'"),
    }
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.toks.get(self.at)
    }

    fn end_pos(&self) -> usize {
        self.src.len()
    }

    fn err<T>(&self, pos: usize, msg: impl Into<String>) -> Result<T> {
        Err(Error::formula(self.src, pos, msg))
    }

    fn expect_op(&mut self, op: &str) -> Result<usize> {
        match self.peek() {
            Some(Token { tok: Tok::Op(o), pos }) if *o == op => {
                let pos = *pos;
                self.at += 1;
                Ok(pos)
            }
            Some(t) => self.err(t.pos, format!("expected '{op}' but found {}", describe(&t.tok))),
            None => self.err(self.end_pos(), format!("expected '{op}' but the formula ended")),
        }
    }

    fn expr(&mut self, min_bp: u8) -> Result<Expr> {
        let mut lhs = self.prefix()?;
        loop {
            let (op, pos) = match self.peek() {
                Some(Token { tok: Tok::Op(op), pos }) => (*op, *pos),
                Some(Token { tok: Tok::Special(op), pos }) => {
                    return self.err(*pos, format!("operator '{op}' is not supported in formulas"))
                }
                _ => break,
            };
            let Some((l_bp, r_bp)) = binding_power(op) else { break };
            if l_bp < min_bp {
                break;
            }
            self.at += 1;
            if self.peek().is_none() {
                return self.err(self.end_pos(), format!("the formula ends after '{op}'"));
            }
            let rhs = self.expr(r_bp)?;
            let start = lhs.pos;
            let _ = pos;
            lhs = Expr::new(ExprKind::Binary { op, lhs: Box::new(lhs), rhs: Box::new(rhs) }, start);
        }
        Ok(lhs)
    }

    fn prefix(&mut self) -> Result<Expr> {
        let Some(t) = self.peek().cloned() else {
            return self.err(self.end_pos(), "the formula ended where a term was expected");
        };
        self.at += 1;
        let pos = t.pos;
        let kind = match t.tok {
            Tok::Number(v) => ExprKind::Number(v),
            Tok::Str(s) => ExprKind::Str(s),
            Tok::Name(n) => {
                if matches!(self.peek(), Some(Token { tok: Tok::Op("("), .. })) {
                    self.at += 1;
                    let args = self.call_args()?;
                    ExprKind::Call { func: n, args }
                } else {
                    ExprKind::Name(n)
                }
            }
            Tok::Op("(") => {
                let inner = self.expr(0)?;
                self.expect_op(")")?;
                ExprKind::Paren(Box::new(inner))
            }
            Tok::Op(op @ ("-" | "+")) => {
                let e = self.expr(UNARY_MINUS_BP)?;
                ExprKind::Unary { op, expr: Box::new(e) }
            }
            Tok::Op("!") => {
                let e = self.expr(NOT_BP)?;
                ExprKind::Unary { op: "!", expr: Box::new(e) }
            }
            Tok::Op("~") => {
                let e = self.expr(TILDE_BP)?;
                ExprKind::Unary { op: "~", expr: Box::new(e) }
            }
            other => return self.err(pos, format!("unexpected {}", describe(&other))),
        };
        Ok(Expr::new(kind, pos))
    }

    /// Arguments after the opening parenthesis of a call, through the closing one.
    fn call_args(&mut self) -> Result<Vec<Arg>> {
        let mut args = Vec::new();
        if matches!(self.peek(), Some(Token { tok: Tok::Op(")"), .. })) {
            self.at += 1;
            return Ok(args);
        }
        loop {
            let named = matches!(
                (self.toks.get(self.at), self.toks.get(self.at + 1)),
                (Some(Token { tok: Tok::Name(_), .. }), Some(Token { tok: Tok::Op("="), .. }))
            );
            let name = if named {
                let Tok::Name(n) = &self.toks[self.at].tok else { unreachable!() };
                let n = n.clone();
                self.at += 2;
                Some(n)
            } else {
                None
            };
            let value = self.expr(0)?;
            args.push(Arg { name, value });
            match self.peek() {
                Some(Token { tok: Tok::Op(","), .. }) => self.at += 1,
                Some(Token { tok: Tok::Op(")"), .. }) => {
                    self.at += 1;
                    return Ok(args);
                }
                Some(t) => return self.err(t.pos, format!("expected ',' or ')' but found {}", describe(&t.tok))),
                None => return self.err(self.end_pos(), "missing ')' at the end of a call"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dep(s: &str) -> String {
        parse(s).unwrap().deparse()
    }

    #[test]
    fn precedence_matches_r() {
        // `:` binds tighter than `*`, which binds tighter than `+`.
        let e = parse("a + b * c:d").unwrap();
        let ExprKind::Binary { op: "+", rhs, .. } = &e.kind else { panic!() };
        let ExprKind::Binary { op: "*", rhs: cd, .. } = &rhs.kind else { panic!() };
        assert!(matches!(cd.kind, ExprKind::Binary { op: ":", .. }));
        // `|` binds looser than `+`: (Days + 1 | Subject) is (Days + 1) | Subject.
        let e = parse("Days + 1 | Subject").unwrap();
        assert!(matches!(e.kind, ExprKind::Binary { op: "|", .. }));
        // -x^2 is -(x^2)
        let e = parse("-x^2").unwrap();
        assert!(matches!(e.kind, ExprKind::Unary { op: "-", .. }));
    }

    #[test]
    fn deparse_is_r_style() {
        assert_eq!(dep("relevel(Evit,ref='Evit100')"), "relevel(Evit, ref = \"Evit100\")");
        assert_eq!(dep("I(x^2)"), "I(x^2)");
        assert_eq!(dep("I(x*2+1)"), "I(x * 2 + 1)");
        assert_eq!(dep("log(x/2)"), "log(x/2)");
        assert_eq!(dep("poly(x,2)"), "poly(x, 2)");
    }

    #[test]
    fn errors_point_at_the_problem() {
        for (src, pos) in [("y ~ x +", 7), ("y ~ (x | g", 10), ("y ~ f(x,", 8), ("y ~ x %% 2", 6)] {
            match parse(src).unwrap_err() {
                Error::Formula { position, .. } => assert_eq!(position, pos, "{src}"),
                e => panic!("{e:?}"),
            }
        }
    }
}
