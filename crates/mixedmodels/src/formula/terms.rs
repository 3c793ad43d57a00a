//! Expansion of a parsed formula into terms, as R's `terms.formula` does for
//! the fixed part and lme4's `findbars`/`expandDoubleVerts`/`expandSlash` for
//! the random part.

use super::ast::{Expr, ExprKind};
use super::parser::parse;
use crate::error::{Error, Result};

/// A variable of the model: a column or an expression of columns (`log(x)`,
/// `poly(x, 2)`, `relevel(f, ref = "b")`), named by its R deparse.
#[derive(Debug, Clone, PartialEq)]
pub struct Variable {
    pub name: String,
    pub expr: Expr,
}

/// An interaction of variables: indices into [`ModelFormula::variables`],
/// ascending (which is the order of first appearance, as R keeps it).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Term(pub Vec<usize>);

impl Term {
    fn union(&self, other: &Term) -> Term {
        let mut v = self.0.clone();
        for x in &other.0 {
            if !v.contains(x) {
                v.push(*x);
            }
        }
        v.sort_unstable();
        Term(v)
    }

    pub fn order(&self) -> usize {
        self.0.len()
    }

    pub fn contains(&self, var: usize) -> bool {
        self.0.contains(&var)
    }

    /// The term without one variable (the empty term stands for the intercept).
    pub fn without(&self, var: usize) -> Term {
        Term(self.0.iter().copied().filter(|v| *v != var).collect())
    }
}

/// The right-hand side of a (sub)formula: intercept and terms, sorted by order.
#[derive(Debug, Clone, PartialEq)]
pub struct TermList {
    pub intercept: bool,
    pub terms: Vec<Term>,
}

/// One random-effects term `(lhs | group)` after `||` and `/` expansion.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    pub lhs: TermList,
    /// The left-hand side as lme4 writes it after `||` expansion (`Days`, `1`, `0 + Days`).
    pub lhs_text: String,
    /// The grouping factor is the interaction of these expressions.
    pub group: Vec<Expr>,
    /// The name lme4 gives the grouping factor (`Subject`, `cask:batch`).
    pub group_name: String,
    pub pos: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ModelFormula {
    pub source: String,
    pub response: Option<Expr>,
    pub variables: Vec<Variable>,
    pub fixed: TermList,
    pub offsets: Vec<Expr>,
    pub bars: Vec<Bar>,
}

impl ModelFormula {
    pub fn parse(source: &str) -> Result<Self> {
        let tree = parse(source)?;
        let (response, rhs) = match tree.kind {
            ExprKind::Binary { op: "~", lhs, rhs } => (Some(*lhs), *rhs),
            ExprKind::Unary { op: "~", expr } => (None, *expr),
            _ => return Err(Error::formula(source, 0, "a formula needs '~' between the response and the terms")),
        };
        let mut b = Builder { src: source, variables: Vec::new(), offsets: Vec::new() };
        let fixed = b.term_list(&rhs)?;
        let mut bars = Vec::new();
        b.collect_bars(&rhs, &mut bars)?;
        if let Some(r) = &response {
            b.check_response_not_a_predictor(r, &fixed)?;
        }
        Ok(ModelFormula {
            source: source.to_string(),
            response,
            variables: b.variables,
            fixed,
            offsets: b.offsets,
            bars,
        })
    }

    /// Names of the data columns the model reads, in order of appearance.
    pub fn column_names(&self) -> Vec<String> {
        self.columns_read(true, true, &[])
    }

    /// The data columns the formula reads: with or without the response and
    /// the grouping factors; a name R reads as a constant (`F`, `pi`) is a
    /// column when `available` has it, as R's model frame looks in the data first.
    pub fn columns_read(&self, response: bool, groups: bool, available: &[String]) -> Vec<String> {
        let is_column = |n: &str| !super::is_r_constant(n) || available.iter().any(|a| a == n);
        let mut out = Vec::new();
        if response {
            if let Some(r) = &self.response {
                r.column_names_where(&mut out, &is_column);
            }
        }
        for v in &self.variables {
            v.expr.column_names_where(&mut out, &is_column);
        }
        for o in &self.offsets {
            o.column_names_where(&mut out, &is_column);
        }
        if groups {
            for bar in &self.bars {
                for g in &bar.group {
                    g.column_names_where(&mut out, &is_column);
                }
            }
        }
        out
    }

    pub fn variable_name(&self, i: usize) -> &str {
        &self.variables[i].name
    }
}

/// A set of terms under construction; the empty term is the intercept.
#[derive(Debug, Clone, Default)]
struct Expansion {
    terms: Vec<Term>,
    no_intercept: bool,
}

impl Expansion {
    fn push(&mut self, t: Term) {
        if !self.terms.contains(&t) {
            self.terms.push(t);
        }
    }

    /// `self + other`: R reads the intercept's fate left to right, so a `+ 1`
    /// after a `- 1` (`y ~ a - 1 + 1`, `y ~ 0 + a + 1`) puts it back and a
    /// `+ 0` removes it.
    fn plus(mut self, other: Expansion) -> Expansion {
        let restores_intercept = other.terms.iter().any(|t| t.order() == 0);
        for t in other.terms {
            self.push(t);
        }
        self.no_intercept = other.no_intercept || (self.no_intercept && !restores_intercept);
        self
    }

    fn interact(&self, other: &Expansion) -> Expansion {
        let mut out = Expansion::default();
        for a in &self.terms {
            for b in &other.terms {
                out.push(a.union(b));
            }
        }
        out
    }

    fn all_variables(&self) -> Term {
        self.terms.iter().fold(Term(vec![]), |acc, t| acc.union(t))
    }
}

struct Builder<'a> {
    src: &'a str,
    variables: Vec<Variable>,
    offsets: Vec<Expr>,
}

impl Builder<'_> {
    fn err<T>(&self, pos: usize, msg: impl Into<String>) -> Result<T> {
        Err(Error::formula(self.src, pos, msg))
    }

    /// The response as a fixed-effects term would fit it perfectly (R drops it
    /// with a warning; here it is an error, as it is never what was meant).
    fn check_response_not_a_predictor(&self, response: &Expr, fixed: &TermList) -> Result<()> {
        let response_text = response.deparse();
        for t in &fixed.terms {
            for &v in &t.0 {
                let variable = &self.variables[v];
                if variable.expr.deparse() == response_text {
                    return self.err(
                        variable.expr.pos,
                        format!("the response '{response_text}' is also a predictor on the right-hand side"),
                    );
                }
            }
        }
        Ok(())
    }

    fn variable(&mut self, e: &Expr) -> usize {
        let name = e.deparse();
        if let Some(i) = self.variables.iter().position(|v| v.name == name) {
            return i;
        }
        self.variables.push(Variable { name, expr: e.clone() });
        self.variables.len() - 1
    }

    fn term_list(&mut self, e: &Expr) -> Result<TermList> {
        let ex = self.expand(e)?;
        let intercept = !ex.no_intercept;
        let mut terms: Vec<Term> = ex.terms.into_iter().filter(|t| t.order() > 0).collect();
        // R orders terms by their order of interaction, keeping formula order within an order.
        terms.sort_by_key(Term::order);
        Ok(TermList { intercept, terms })
    }

    fn expand(&mut self, e: &Expr) -> Result<Expansion> {
        match &e.kind {
            ExprKind::Paren(inner) => {
                if is_bar(inner) {
                    Ok(Expansion::default())
                } else {
                    self.expand(inner)
                }
            }
            ExprKind::Number(v) if *v == 1.0 => Ok(Expansion { terms: vec![Term(vec![])], no_intercept: false }),
            ExprKind::Number(v) if *v == 0.0 => Ok(Expansion { terms: vec![], no_intercept: true }),
            ExprKind::Number(v) => {
                self.err(e.pos, format!("the number {v} cannot be a term; write I({v}) or use 0/1 for the intercept"))
            }
            ExprKind::Str(_) => self.err(e.pos, "a string cannot be a term"),
            ExprKind::Name(n) if n == "." => {
                self.err(e.pos, "'.' (all other columns) is not supported: list the terms")
            }
            ExprKind::Name(_) => {
                let v = self.variable(e);
                Ok(Expansion { terms: vec![Term(vec![v])], no_intercept: false })
            }
            ExprKind::Call { func, args } if func == "offset" => {
                if args.len() != 1 {
                    return self.err(e.pos, "offset() takes exactly one argument");
                }
                self.offsets.push(args[0].value.clone());
                Ok(Expansion::default())
            }
            ExprKind::Call { .. } => {
                let v = self.variable(e);
                Ok(Expansion { terms: vec![Term(vec![v])], no_intercept: false })
            }
            ExprKind::Unary { op: "-", expr } => {
                // `- 1` or `- 0` alone: intercept removal (or a no-op).
                let inner = self.expand(expr)?;
                let mut out = Expansion::default();
                if inner.terms.iter().any(|t| t.order() == 0) {
                    out.no_intercept = true;
                } else if !inner.terms.is_empty() {
                    return self.err(e.pos, "a term can only be removed from a formula that has it");
                }
                Ok(out)
            }
            ExprKind::Unary { op: "+", expr } => self.expand(expr),
            ExprKind::Unary { op, .. } => {
                self.err(e.pos, format!("unary '{op}' is not a formula operator; wrap arithmetic in I()"))
            }
            ExprKind::Binary { op, lhs, rhs } => self.expand_binary(op, lhs, rhs, e.pos),
        }
    }

    fn expand_binary(&mut self, op: &str, lhs: &Expr, rhs: &Expr, pos: usize) -> Result<Expansion> {
        match op {
            "+" => {
                let a = self.expand(lhs)?;
                let b = self.expand(rhs)?;
                Ok(a.plus(b))
            }
            "-" => {
                let mut a = self.expand(lhs)?;
                let b = self.expand(rhs)?;
                for t in &b.terms {
                    if t.order() == 0 {
                        a.no_intercept = true;
                    }
                    a.terms.retain(|x| x != t);
                }
                if b.no_intercept {
                    a.no_intercept = false; // `- 0` puts the intercept back, as in R
                }
                Ok(a)
            }
            ":" => {
                let a = self.expand(lhs)?;
                let b = self.expand(rhs)?;
                Ok(a.interact(&b))
            }
            "*" => {
                let a = self.expand(lhs)?;
                let b = self.expand(rhs)?;
                let ab = a.interact(&b);
                Ok(a.plus(b).plus(ab))
            }
            "/" => {
                // a/b = a + b %in% a: each term of b with all variables of a.
                let a = self.expand(lhs)?;
                let b = self.expand(rhs)?;
                let inner = Expansion { terms: vec![a.all_variables()], no_intercept: false };
                let nested = b.interact(&inner);
                Ok(a.plus(nested))
            }
            "%in%" => {
                let a = self.expand(lhs)?;
                let b = self.expand(rhs)?;
                let outer = Expansion { terms: vec![b.all_variables()], no_intercept: false };
                Ok(a.interact(&outer))
            }
            "^" => {
                let a = self.expand(lhs)?;
                let Some(k) = rhs.as_number() else {
                    return self.err(rhs.pos, "the power of a term must be a whole number, as in (a + b)^2");
                };
                if k < 1.0 || k.fract() != 0.0 {
                    return self.err(rhs.pos, "the power of a term must be a whole number of at least 1");
                }
                // Powers past the number of terms add nothing (every term already
                // interacts with all the others), so R's (a + b)^1e9 is (a + b)^2.
                let k = (k as usize).min(a.terms.len().max(1));
                let mut acc = a.clone();
                for _ in 1..k {
                    let prod = acc.interact(&a);
                    acc = acc.plus(prod);
                }
                Ok(acc)
            }
            "|" | "||" => self.err(pos, "a random-effects term must be in parentheses, as in (1 | group)"),
            "~" => self.err(pos, "a formula can have only one '~'"),
            other => self.err(pos, format!("'{other}' is not a formula operator; wrap arithmetic in I()")),
        }
    }

    /// Find the `(lhs | g)` terms among the summands of the right-hand side.
    fn collect_bars(&mut self, e: &Expr, out: &mut Vec<Bar>) -> Result<()> {
        match &e.kind {
            ExprKind::Binary { op: "+" | "-", lhs, rhs } => {
                self.collect_bars(lhs, out)?;
                self.collect_bars(rhs, out)
            }
            ExprKind::Unary { op: "+", expr } => self.collect_bars(expr, out),
            ExprKind::Paren(inner) => match &inner.kind {
                ExprKind::Binary { op: op @ ("|" | "||"), lhs, rhs } => self.bar(op, lhs, rhs, inner.pos, out),
                _ => {
                    if contains_bar(inner) {
                        return self.err(inner.pos, "random-effects terms cannot be nested inside other terms");
                    }
                    Ok(())
                }
            },
            _ => {
                if contains_bar(e) {
                    return self.err(e.pos, "random-effects terms cannot be part of an interaction");
                }
                Ok(())
            }
        }
    }

    fn bar(&mut self, op: &str, lhs: &Expr, rhs: &Expr, pos: usize, out: &mut Vec<Bar>) -> Result<()> {
        if let Some(inner) = find_bar(lhs).or_else(|| find_bar(rhs)) {
            return self.err(inner, "a random-effects term cannot contain another '|'");
        }
        let groups = self.grouping_factors(rhs)?;
        let lhs_terms = self.term_list(lhs)?;
        if !lhs_terms.intercept && lhs_terms.terms.is_empty() {
            return self.err(lhs.pos, "a random-effects term needs at least one effect before '|'");
        }
        for (group, group_name) in groups {
            if op == "||" {
                // lme4's expandDoubleVerts: (1 | g) + (0 + t | g) for each term t.
                if lhs_terms.intercept {
                    out.push(Bar {
                        lhs: TermList { intercept: true, terms: vec![] },
                        lhs_text: "1".into(),
                        group: group.clone(),
                        group_name: group_name.clone(),
                        pos,
                    });
                }
                for t in &lhs_terms.terms {
                    let label = t.0.iter().map(|v| self.variables[*v].name.as_str()).collect::<Vec<_>>().join(":");
                    out.push(Bar {
                        lhs: TermList { intercept: false, terms: vec![t.clone()] },
                        lhs_text: format!("0 + {label}"),
                        group: group.clone(),
                        group_name: group_name.clone(),
                        pos,
                    });
                }
            } else {
                out.push(Bar { lhs: lhs_terms.clone(), lhs_text: lhs.deparse(), group, group_name, pos });
            }
        }
        Ok(())
    }

    /// `g`, `a:b`, `a/b` (= `a` and `b:a`, as lme4's expandSlash names them).
    fn grouping_factors(&self, e: &Expr) -> Result<Vec<(Vec<Expr>, String)>> {
        let e = e.unparen();
        match &e.kind {
            ExprKind::Binary { op: "/", lhs, rhs } => {
                // lme4's findbars lists the nested factor first: a/b -> b:a, a.
                let outer = self.grouping_factors(lhs)?;
                let inner = self.grouping_factors(rhs)?;
                let innermost_outer = outer.first().map(|(parts, _)| parts.clone()).unwrap_or_default();
                let mut out = Vec::new();
                for (parts, _) in inner {
                    let mut combined = parts.clone();
                    combined.extend(innermost_outer.iter().cloned());
                    let name = combined.iter().map(Expr::deparse).collect::<Vec<_>>().join(":");
                    out.push((combined, name));
                }
                out.extend(outer);
                Ok(out)
            }
            ExprKind::Binary { op: ":", lhs, rhs } => {
                let mut parts = Vec::new();
                for side in [lhs, rhs] {
                    let g = self.grouping_factors(side)?;
                    if g.len() != 1 {
                        return self.err(side.pos, "'/' cannot appear inside ':' in a grouping factor");
                    }
                    parts.extend(g.into_iter().next().unwrap_or_default().0);
                }
                let name = parts.iter().map(Expr::deparse).collect::<Vec<_>>().join(":");
                Ok(vec![(parts, name)])
            }
            ExprKind::Name(_) | ExprKind::Call { .. } => Ok(vec![(vec![e.clone()], e.deparse())]),
            _ => self.err(e.pos, "the grouping factor after '|' must be a column, a:b or a/b"),
        }
    }
}

fn is_bar(e: &Expr) -> bool {
    matches!(e.kind, ExprKind::Binary { op: "|" | "||", .. })
}

fn contains_bar(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::Binary { op: "|" | "||", .. } => true,
        ExprKind::Binary { lhs, rhs, .. } => contains_bar(lhs) || contains_bar(rhs),
        ExprKind::Paren(x) | ExprKind::Unary { expr: x, .. } => contains_bar(x),
        _ => false,
    }
}

/// The position of a `|` or `||` anywhere inside `e`.
fn find_bar(e: &Expr) -> Option<usize> {
    match &e.kind {
        ExprKind::Binary { op: "|" | "||", .. } => Some(e.pos),
        ExprKind::Binary { lhs, rhs, .. } => find_bar(lhs).or_else(|| find_bar(rhs)),
        ExprKind::Unary { expr, .. } | ExprKind::Paren(expr) => find_bar(expr),
        ExprKind::Call { args, .. } => args.iter().find_map(|a| find_bar(&a.value)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(f: &ModelFormula, tl: &TermList) -> Vec<String> {
        tl.terms.iter().map(|t| t.0.iter().map(|v| f.variable_name(*v)).collect::<Vec<_>>().join(":")).collect()
    }

    #[test]
    fn crossing_and_nesting_expand_as_r() {
        let f = ModelFormula::parse("y ~ a * b + c").unwrap();
        assert_eq!(labels(&f, &f.fixed), ["a", "b", "c", "a:b"]);
        assert!(f.fixed.intercept);
        let f = ModelFormula::parse("y ~ a/b").unwrap();
        assert_eq!(labels(&f, &f.fixed), ["a", "a:b"]);
        let f = ModelFormula::parse("y ~ (a + b + c)^2 - b:c").unwrap();
        assert_eq!(labels(&f, &f.fixed), ["a", "b", "c", "a:b", "a:c"]);
        let f = ModelFormula::parse("y ~ 0 + x").unwrap();
        assert!(!f.fixed.intercept);
        let f = ModelFormula::parse("y ~ x - 1").unwrap();
        assert!(!f.fixed.intercept);
        assert_eq!(labels(&f, &f.fixed), ["x"]);
        let f = ModelFormula::parse("y ~ Time * relevel(Evit, ref = 'Evit100')").unwrap();
        assert_eq!(
            labels(&f, &f.fixed),
            ["Time", "relevel(Evit, ref = \"Evit100\")", "Time:relevel(Evit, ref = \"Evit100\")"]
        );
    }

    /// R reads the intercept's fate left to right (`attr(terms(f), "intercept")` in R 4.2).
    #[test]
    fn the_last_intercept_operation_wins_as_in_r() {
        for (formula, intercept) in [
            ("y ~ a - 1 + 1", true),
            ("y ~ 0 + a + 1", true),
            ("y ~ -1 + a + 1", true),
            ("y ~ a + 1 - 1", false),
            ("y ~ 1 + a + 0", false),
            ("y ~ a - 1 + b", false),
        ] {
            let f = ModelFormula::parse(formula).unwrap();
            assert_eq!(f.fixed.intercept, intercept, "{formula}");
            assert_eq!(labels(&f, &f.fixed), ["a", "b"][..labels(&f, &f.fixed).len()], "{formula}");
        }
    }

    #[test]
    fn bars_expand_as_lme4() {
        let f = ModelFormula::parse("Reaction ~ Days + (Days || Subject)").unwrap();
        assert_eq!(f.bars.len(), 2);
        assert!(f.bars[0].lhs.intercept && f.bars[0].lhs.terms.is_empty());
        assert!(!f.bars[1].lhs.intercept);
        assert_eq!(labels(&f, &f.fixed), ["Days"]);
        let f = ModelFormula::parse("strength ~ 1 + (1 | batch/cask)").unwrap();
        let names: Vec<_> = f.bars.iter().map(|b| b.group_name.clone()).collect();
        assert_eq!(names, ["cask:batch", "batch"]);
        let f = ModelFormula::parse("y ~ 1 + (1 | a/b/c)").unwrap();
        let names: Vec<_> = f.bars.iter().map(|b| b.group_name.clone()).collect();
        assert_eq!(names, ["c:b:a", "b:a", "a"]);
        assert!(f.fixed.terms.is_empty() && f.fixed.intercept);
        let f = ModelFormula::parse("y ~ x + (0 + x | a:b) + (1 | c)").unwrap();
        assert_eq!(f.bars[0].group_name, "a:b");
        assert!(!f.bars[0].lhs.intercept);
        assert_eq!(f.column_names(), ["y", "x", "a", "b", "c"]);
    }

    #[test]
    fn misplaced_bars_are_errors() {
        assert!(ModelFormula::parse("y ~ x + 1 | g").is_err());
        // R accepts `++`: a unary plus before the bar.
        assert_eq!(ModelFormula::parse("y ~ x ++ (1 | g)").unwrap().bars.len(), 1);
        assert!(ModelFormula::parse("y ~ x:(1 | g)").is_err());
        assert!(ModelFormula::parse("y x").is_err());
    }
}
