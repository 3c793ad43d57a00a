"""R formula text in Python: a small parser and deparser for the expressions
of lme4 formulas, R's term expansion (``terms()``, ``drop.scope()``) and
lme4's ``findbars`` / ``nobars``.

Only what model comparison needs: reduced formulas are built as text and
handed back to the core's own parser, and their labels follow R's
``deparse`` (spaces around ``+ - * | ~ =``, none around ``: ^ /``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mixedmodels.exceptions import FormulaError


# ----------------------------------------------------------------- nodes
@dataclass(frozen=True)
class Sym:
    name: str


@dataclass(frozen=True)
class Num:
    text: str


@dataclass(frozen=True)
class Str:
    value: str


@dataclass(frozen=True)
class Paren:
    inner: Node


@dataclass(frozen=True)
class Unary:
    op: str
    arg: Node


@dataclass(frozen=True)
class Binary:
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Call:
    fn: Node
    args: tuple[tuple[str | None, Node], ...]


@dataclass(frozen=True)
class Index:
    obj: Node
    args: tuple[Node, ...]
    double: bool


Node = Sym | Num | Str | Paren | Unary | Binary | Call | Index

# ------------------------------------------------------------- tokenizer
_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?L?|0[xX][0-9a-fA-F]+L?)
  | (?P<name>(?:[A-Za-z]|\.(?![0-9]))[A-Za-z0-9._]*|\.)
  | (?P<bq>`(?:[^`\\]|\\.)*`)
  | (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<op>%[^%]*%|\|\||&&|==|!=|<=|>=|::|\|>|\[\[|[~|&!<>+\-*/:^$@()\[\],=])
    """,
    re.VERBOSE,
)

# binding powers (R's ?Syntax, low to high)
_BINARY = {
    "~": 10,
    "|": 20,
    "||": 20,
    "&": 30,
    "&&": 30,
    "==": 50,
    "!=": 50,
    "<": 50,
    ">": 50,
    "<=": 50,
    ">=": 50,
    "+": 60,
    "-": 60,
    "*": 70,
    "/": 70,
    "|>": 80,
    ":": 90,
    "^": 110,
    "$": 130,
    "@": 130,
    "::": 140,
}
_RIGHT_ASSOC = {"^"}
_UNARY_BP = {"~": 10, "!": 40, "-": 100, "+": 100}
_POSTFIX_BP = 120
# R's deparse writes these binary operators without spaces
_TIGHT = {":", "^", "/", "$", "@", "::"}


def _tokenize(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise FormulaError(f"cannot read the formula '{text}' at position {pos + 1}")
        kind = m.lastgroup or ""
        if kind != "ws":
            out.append((kind, m.group()))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.i = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise FormulaError(f"unexpected end of the formula '{self.text}'")
        self.i += 1
        return tok

    def expect(self, value: str) -> None:
        tok = self.take()
        if tok[1] != value:
            raise FormulaError(f"expected '{value}' in the formula '{self.text}', found '{tok[1]}'")

    def parse(self) -> Node:
        node = self.expr(0)
        if self.peek() is not None:
            raise FormulaError(f"unexpected '{self.peek()[1]}' in the formula '{self.text}'")  # type: ignore[index]
        return node

    def expr(self, rbp: int) -> Node:
        left = self.nud()
        while True:
            tok = self.peek()
            if tok is None or tok[0] != "op":
                break
            op = tok[1]
            if op in ("(", "[", "[["):
                if rbp >= _POSTFIX_BP:
                    break
                self.take()
                left = self.postfix(left, op)
                continue
            bp = _BINARY.get(op)
            if bp is None and op.startswith("%"):
                bp = 80
            if bp is None or bp <= rbp:
                break
            self.take()
            right = self.expr(bp - 1 if op in _RIGHT_ASSOC else bp)
            left = Binary(op, left, right)
        return left

    def nud(self) -> Node:
        kind, value = self.take()
        if kind == "num":
            return Num(value)
        if kind == "name":
            return Sym(value)
        if kind == "bq":
            return Sym(value[1:-1])
        if kind == "str":
            return Str(bytes(value[1:-1], "utf-8").decode("unicode_escape"))
        if value == "(":
            inner = self.expr(0)
            self.expect(")")
            return Paren(inner)
        if value in _UNARY_BP:
            return Unary(value, self.expr(_UNARY_BP[value]))
        raise FormulaError(f"unexpected '{value}' in the formula '{self.text}'")

    def postfix(self, left: Node, op: str) -> Node:
        close = {"(": ")", "[": "]", "[[": "]"}[op]
        args: list[tuple[str | None, Node]] = []
        tok = self.peek()
        if tok is not None and tok[1] == close:
            self.take()
        else:
            while True:
                name = None
                tok, nxt = self.peek(), self.tokens[self.i + 1] if self.i + 1 < len(self.tokens) else None
                if tok is not None and tok[0] in ("name", "bq", "str") and nxt is not None and nxt[1] == "=":
                    self.take()
                    self.take()
                    name = tok[1].strip("`\"'")
                args.append((name, self.expr(0)))
                sep = self.take()[1]
                if sep == close:
                    break
                if sep != ",":
                    raise FormulaError(f"expected ',' or '{close}' in the formula '{self.text}'")
        if op == "[[":
            self.expect("]")
        if op == "(":
            return Call(left, tuple(args))
        return Index(left, tuple(a for _, a in args), op == "[[")


def parse(text: str) -> Node:
    """Parse R expression text (a formula or a part of one)."""
    return _Parser(text).parse()


# --------------------------------------------------------------- deparse
_SYNTACTIC = re.compile(r"^(?:[A-Za-z]|\.(?![0-9]))[A-Za-z0-9._]*$|^\.$")


def _num_text(text: str) -> str:
    if text.endswith("L") or text.lower().startswith("0x"):
        return text
    v = float(text)
    if v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    return f"{v:.15g}"


def _str_text(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t") + '"'


def deparse(node: Node) -> str:
    """R's ``deparse`` of an expression (operator spacing as R prints it)."""
    if isinstance(node, Sym):
        return node.name if _SYNTACTIC.match(node.name) else f"`{node.name}`"
    if isinstance(node, Num):
        return _num_text(node.text)
    if isinstance(node, Str):
        return _str_text(node.value)
    if isinstance(node, Paren):
        return f"({deparse(node.inner)})"
    if isinstance(node, Unary):
        return f"{node.op}{deparse(node.arg)}"
    if isinstance(node, Binary):
        sep = node.op if node.op in _TIGHT else f" {node.op} "
        return f"{deparse(node.left)}{sep}{deparse(node.right)}"
    if isinstance(node, Call):
        args = ", ".join(deparse(a) if n is None else f"{_arg_name(n)} = {deparse(a)}" for n, a in node.args)
        return f"{deparse(node.fn)}({args})"
    open_, close = ("[[", "]]") if node.double else ("[", "]")
    return f"{deparse(node.obj)}{open_}{', '.join(deparse(a) for a in node.args)}{close}"


def _arg_name(name: str) -> str:
    return name if _SYNTACTIC.match(name) else f"`{name}`"


# ------------------------------------------------------------- formulas
@dataclass(frozen=True)
class Formula:
    """A two-sided formula split as lme4 sees it."""

    response: str
    fixed: str
    bars: tuple[Binary, ...]

    def text(self, bars: tuple[Binary, ...] | list[Binary] | None = None) -> str:
        """The formula with these random-effect terms (default: its own)."""
        bars = self.bars if bars is None else bars
        rhs = " + ".join([self.fixed, *(f"({deparse(b)})" for b in bars)])
        return f"{self.response} ~ {rhs}"


def split_formula(text: str) -> Formula:
    """Response, fixed part (lme4's ``nobars``) and the random-effect terms
    (lme4's ``findbars``: ``||`` and ``/`` expanded) of a model formula."""
    node = parse(text)
    if not (isinstance(node, Binary) and node.op == "~"):
        raise FormulaError(f"the formula '{text}' needs a response: 'y ~ ...'")
    rhs = node.right
    fixed = _nobars(rhs)
    bars = tuple(b for bar in _findbars(_expand_double_verts(rhs)) for b in _expand_slash(bar))
    return Formula(deparse(node.left), deparse(fixed) if fixed is not None else "1", bars)


def _is_bar(node: Node) -> bool:
    while isinstance(node, Paren):
        node = node.inner
    return isinstance(node, Binary) and node.op in ("|", "||")


def _any_bars(node: Node) -> bool:
    if isinstance(node, Binary):
        return node.op in ("|", "||") or _any_bars(node.left) or _any_bars(node.right)
    if isinstance(node, Paren):
        return _any_bars(node.inner)
    if isinstance(node, Unary):
        return _any_bars(node.arg)
    return False


def _nobars(node: Node) -> Node | None:
    if not _any_bars(node):
        return node
    if _is_bar(node):
        return None
    if isinstance(node, Paren):
        inner = _nobars(node.inner)
        return None if inner is None else Paren(inner)
    if isinstance(node, Unary):
        arg = _nobars(node.arg)
        return None if arg is None else Unary(node.op, arg)
    assert isinstance(node, Binary)
    left, right = _nobars(node.left), _nobars(node.right)
    if left is None:
        return right
    if right is None:
        return left
    return Binary(node.op, left, right)


def _findbars(node: Node) -> list[Binary]:
    if isinstance(node, Binary):
        if node.op == "|":
            return [node]
        return _findbars(node.left) + _findbars(node.right)
    if isinstance(node, Paren):
        return _findbars(node.inner)
    if isinstance(node, Unary):
        return _findbars(node.arg)
    return []


def _expand_double_verts(node: Node) -> Node:
    """lme4's expandDoubleVerts: ``(x || g)`` -> ``((1 | g) + (0 + x | g))``."""
    if isinstance(node, Binary):
        if node.op == "||":
            terms, intercept = expand_terms(node.left)
            group = deparse(node.right)
            new = ["0+" + label(t) for t in terms]
            if intercept:
                new.insert(0, "1")
            return parse("(" + ")+(".join(f"{t}|{group}" for t in new) + ")")
        return Binary(node.op, _expand_double_verts(node.left), _expand_double_verts(node.right))
    if isinstance(node, Paren):
        return Paren(_expand_double_verts(node.inner))
    if isinstance(node, Unary):
        return Unary(node.op, _expand_double_verts(node.arg))
    return node


def _slash_terms(node: Node) -> list[Node] | Node:
    if isinstance(node, Binary) and node.op == "/":
        return [_slash_terms(node.left), _slash_terms(node.right)]  # type: ignore[list-item]
    return node


def _make_interaction(x: list | Node) -> list | Node:
    if not isinstance(x, list):
        return x
    trm1 = _make_interaction(x[0])
    trm11 = trm1[0] if isinstance(trm1, list) else trm1
    return [Binary(":", x[1], trm11), trm1]


def _flatten(x: list | Node) -> list[Node]:
    if isinstance(x, list):
        return [n for item in x for n in _flatten(item)]
    return [x]


def _expand_slash(bar: Binary) -> list[Binary]:
    """lme4's expandSlash: ``(1 | a/b)`` -> ``(1 | b:a)``, ``(1 | a)``."""
    group = bar.right
    while isinstance(group, Paren):
        group = group.inner
    trms = _slash_terms(group)
    if not isinstance(trms, list):
        return [bar]
    return [Binary("|", bar.left, g) for g in _flatten(_make_interaction(trms))]


# -------------------------------------------------------- term expansion
Term = tuple[str, ...]


class _Terms:
    """R's terms.formula for a right-hand side: ordered variables, terms as
    sets of variables, the intercept flag."""

    def __init__(self) -> None:
        self.variables: list[str] = []
        self.intercept = True

    def var(self, node: Node) -> frozenset[str]:
        name = deparse(node)
        if name not in self.variables:
            self.variables.append(name)
        return frozenset([name])

    def walk(self, node: Node) -> list[frozenset[str]]:
        if isinstance(node, Paren):
            return self.walk(node.inner)
        if isinstance(node, Num) and node.text in ("0", "1"):
            self.intercept = node.text == "1"
            return []
        if isinstance(node, Unary) and node.op in ("-", "+"):
            if node.op == "+":
                return self.walk(node.arg)
            self.delete(node.arg)
            return []
        if not isinstance(node, Binary) or node.op not in ("+", "-", "*", ":", "/", "^", "%in%"):
            return [self.var(node)]
        op = node.op
        if op == "-":
            left = self.walk(node.left)
            drop = self.delete(node.right)
            return [t for t in left if t not in drop]
        if op == "^":
            left = self.walk(node.left)
            power = int(float(deparse(node.right))) if isinstance(node.right, Num) else 1
            out = list(left)
            for _ in range(power - 1):
                out = _unique(out + [a | b for a in out for b in left])
            return out
        left = self.walk(node.left)
        right = self.walk(node.right)
        if op == "+":
            return _unique(left + right)
        if op == ":":
            return _unique([a | b for a in left for b in right])
        if op == "*":
            return _unique(left + right + [a | b for a in left for b in right])
        if op == "/":
            all_left = frozenset().union(*left) if left else frozenset()
            return _unique(left + [all_left | b for b in right])
        # %in%
        all_right = frozenset().union(*right) if right else frozenset()
        return _unique([a | all_right for a in left])

    def delete(self, node: Node) -> list[frozenset[str]]:
        """Terms removed by ``- node`` (``- 1`` / ``- 0`` also set the intercept)."""
        inner = node
        while isinstance(inner, Paren):
            inner = inner.inner
        if isinstance(inner, Num) and inner.text in ("0", "1"):
            self.intercept = inner.text == "0"
            return []
        saved = self.intercept
        terms = self.walk(node)
        self.intercept = saved
        return terms


def _unique(terms: list[frozenset[str]]) -> list[frozenset[str]]:
    return list(dict.fromkeys(t for t in terms if t))


def expand_terms(node: Node) -> tuple[list[Term], bool]:
    """R's term labels of a right-hand side, as variable tuples in R's order
    (by the number of variables, then as they appear), and the intercept."""
    t = _Terms()
    terms = t.walk(node)
    order = {v: i for i, v in enumerate(t.variables)}
    out = [tuple(sorted(s, key=order.__getitem__)) for s in terms]
    out = sorted(out, key=len)
    return out, t.intercept


def label(term: Term) -> str:
    return ":".join(term)


def drop_scope(terms: list[Term]) -> list[Term]:
    """R's ``drop.scope``: the terms contained in no other term."""
    sets = [frozenset(t) for t in terms]
    return [t for i, t in enumerate(terms) if not any(j != i and sets[i] <= s for j, s in enumerate(sets))]
