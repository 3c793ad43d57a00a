//! Tokens of R's formula language.

use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    Name(String),
    Number(f64),
    Str(String),
    /// An operator or punctuation: `~ + - * / ^ : | || & && ! ( ) , = %in%`
    /// and the comparisons `< > <= >= == !=`.
    Op(&'static str),
    /// A user operator `%...%` other than `%in%`.
    Special(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub tok: Tok,
    /// Byte offset of the token's first character.
    pub pos: usize,
}

const OPERATORS: [&str; 21] =
    ["||", "&&", "<=", ">=", "==", "!=", "~", "+", "-", "*", "/", "^", ":", "|", "&", "!", "(", ")", ",", "<", ">"];

pub fn tokenize(src: &str) -> Result<Vec<Token>> {
    let bytes = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        // `i` is always on a character boundary: decode the whole character
        // (a byte of a multi-byte character is not a character).
        let c = src[i..].chars().next().expect("i < len on a char boundary");
        if c.is_whitespace() {
            i += c.len_utf8();
            continue;
        }
        let start = i;
        if c.is_ascii_digit() || (c == '.' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit)) {
            i = scan_number(bytes, i);
            let text = &src[start..i];
            let value: f64 = text
                .trim_end_matches('L')
                .parse()
                .map_err(|_| Error::formula(src, start, format!("malformed number '{text}'")))?;
            out.push(Token { tok: Tok::Number(value), pos: start });
        } else if c.is_alphabetic() || c == '.' {
            while i < bytes.len() {
                let ch = src[i..].chars().next().unwrap_or(' ');
                if ch.is_alphanumeric() || ch == '.' || ch == '_' {
                    i += ch.len_utf8();
                } else {
                    break;
                }
            }
            out.push(Token { tok: Tok::Name(src[start..i].to_string()), pos: start });
        } else if c == '`' {
            let end =
                src[i + 1..].find('`').ok_or_else(|| Error::formula(src, start, "unterminated backquoted name"))?;
            out.push(Token { tok: Tok::Name(src[i + 1..i + 1 + end].to_string()), pos: start });
            i += end + 2;
        } else if c == '"' || c == '\'' {
            let end = src[i + 1..].find(c).ok_or_else(|| Error::formula(src, start, "unterminated string"))?;
            out.push(Token { tok: Tok::Str(src[i + 1..i + 1 + end].to_string()), pos: start });
            i += end + 2;
        } else if c == '%' {
            let end = src[i + 1..].find('%').ok_or_else(|| Error::formula(src, start, "unterminated %operator%"))?;
            let op = &src[i..i + end + 2];
            let tok = if op == "%in%" { Tok::Op("%in%") } else { Tok::Special(op.to_string()) };
            out.push(Token { tok, pos: start });
            i += end + 2;
        } else if c == '=' && bytes.get(i + 1) != Some(&b'=') {
            out.push(Token { tok: Tok::Op("="), pos: start });
            i += 1;
        } else if let Some(op) = OPERATORS.iter().find(|op| src[i..].starts_with(**op)) {
            out.push(Token { tok: Tok::Op(op), pos: start });
            i += op.len();
        } else {
            let ch = src[i..].chars().next().unwrap_or('?');
            return Err(Error::formula(src, start, format!("unexpected character '{ch}'")));
        }
    }
    Ok(out)
}

fn scan_number(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'.') {
        i += 1;
    }
    if i < bytes.len() && (bytes[i] == b'e' || bytes[i] == b'E') {
        let mut j = i + 1;
        if j < bytes.len() && (bytes[j] == b'+' || bytes[j] == b'-') {
            j += 1;
        }
        if j < bytes.len() && bytes[j].is_ascii_digit() {
            i = j;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
        }
    }
    if i < bytes.len() && bytes[i] == b'L' {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokenizes_operators_names_and_numbers() {
        let toks = tokenize("y ~ log(x.1) + `a b` || 2.5e-1 %in% g").unwrap();
        let kinds: Vec<_> = toks.iter().map(|t| t.tok.clone()).collect();
        assert_eq!(
            kinds,
            vec![
                Tok::Name("y".into()),
                Tok::Op("~"),
                Tok::Name("log".into()),
                Tok::Op("("),
                Tok::Name("x.1".into()),
                Tok::Op(")"),
                Tok::Op("+"),
                Tok::Name("a b".into()),
                Tok::Op("||"),
                Tok::Number(0.25),
                Tok::Op("%in%"),
                Tok::Name("g".into()),
            ]
        );
        assert_eq!(toks[2].pos, 4);
    }

    #[test]
    fn reports_bad_character_position() {
        let err = tokenize("y ~ x $ z").unwrap_err();
        match err {
            Error::Formula { position, .. } => assert_eq!(position, 6),
            other => panic!("unexpected {other:?}"),
        }
    }
}
