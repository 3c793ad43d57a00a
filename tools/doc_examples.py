"""The examples of the user guide (docs/*.md): find them, run them, and keep
the output printed under each one true.

A page's examples are its ```python blocks. They run in order, in one fresh
namespace per page, so a block can use what an earlier block of the page
defined; a block fenced ```python no-run is shown but never run. A plain
fenced block right after an example (only blank lines between) is that
example's output: what the block printed (standard output and error), its warnings as
``Category: message`` lines where they were raised, and, as in a notebook or
the REPL, the value of a final bare expression. An output fenced ```varies
(timings, memory) is rewritten but never compared.

    python tools/doc_examples.py            # rewrite every page's outputs
    python tools/doc_examples.py getting_started.md
"""

from __future__ import annotations

import ast
import contextlib
import io
import os
import re
import sys
import tempfile
import traceback
import warnings
from dataclasses import dataclass
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs"
FENCE = re.compile(r"^(`{3,})\s*([^`\s]*)\s*(.*?)\s*$")
UNCHECKED_OUTPUT = "varies"


@dataclass
class Output:
    start: int  # 0-based index of the opening fence line
    end: int  # 0-based index of the closing fence line
    text: str
    checked: bool


@dataclass
class Block:
    number: int  # 1-based among the page's python blocks (run or not)
    line: int  # 1-based line of the opening fence
    code: str
    run: bool
    output: Output | None = None


class ExampleError(Exception):
    """A block of a page raised."""


def python_blocks(text: str) -> list[Block]:
    """The ```python blocks of a Markdown page, in order, each with the output
    block that follows it, if any."""
    blocks: list[Block] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        ticks, lang, rest = m.groups()
        j = _closing_fence(lines, i, ticks)
        if lang == "python":
            flags = rest.split()
            block = Block(len(blocks) + 1, i + 1, "\n".join(lines[i + 1 : j]), "no-run" not in flags)
            block.output = _output_after(lines, j + 1)
            blocks.append(block)
        i = j + 1
    return blocks


def _closing_fence(lines: list[str], opening: int, ticks: str) -> int:
    j = opening + 1
    while j < len(lines) and not re.match(rf"^{ticks}`*\s*$", lines[j]):
        j += 1
    if j == len(lines):
        raise ValueError(f"line {opening + 1}: code fence is never closed")
    return j


def _output_after(lines: list[str], start: int) -> Output | None:
    i = start
    while i < len(lines) and not lines[i].strip():
        i += 1
    if i == len(lines):
        return None
    m = FENCE.match(lines[i])
    if not m or m.group(2) not in ("", UNCHECKED_OUTPUT) or m.group(3):
        return None
    j = _closing_fence(lines, i, m.group(1))
    return Output(i, j, "\n".join(lines[i + 1 : j]), m.group(2) != UNCHECKED_OUTPUT)


def run_block(code: str, namespace: dict[str, object], where: str) -> str:
    """Run one example in `namespace`; return what it printed (warnings
    included, where they were raised) and the value of a final expression."""
    tree = ast.parse(code, where)
    final = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    out = io.StringIO()

    def show(message, category, *_args, **_kwargs) -> None:
        out.write(f"{category.__name__}: {message}\n")

    with warnings.catch_warnings(), contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        warnings.simplefilter("always")
        warnings.showwarning = show
        try:
            exec(compile(tree, where, "exec"), namespace)
            if final is not None:
                value = eval(compile(ast.Expression(final.value), where, "eval"), namespace)
                if value is not None:
                    print(repr(value))
        except Exception as e:
            raise ExampleError(f"{where} raised {type(e).__name__}: {e}\n\n{code}\n\n{traceback.format_exc()}") from e
    return _as_shown(out.getvalue())


def _as_shown(text: str) -> str:
    """Printed text as a terminal leaves it: a line redrawn after a carriage
    return (a progress bar) shows its last state; trailing blanks dropped."""
    lines = (line.rsplit("\r", 1)[-1].rstrip() for line in text.rstrip().split("\n"))
    return "\n".join(lines)


def run_page(text: str, name: str) -> list[tuple[Block, str]]:
    """Run a page's examples in order in one fresh namespace; return each run
    block with what it printed. Raises ExampleError naming the page and block
    on the first failure."""
    import polars as pl

    namespace: dict[str, object] = {"__name__": f"docs.{Path(name).stem}"}
    results = []
    try:
        for block in python_blocks(text):
            if block.run:
                where = f"docs/{name}: python block {block.number} (line {block.line})"
                results.append((block, run_block(block.code, namespace, where)))
    finally:
        pl.Config.restore_defaults()  # a page may widen polars' tables
    return results


def render(text: str, name: str) -> str:
    """The page with every example's output block replaced by what it prints now."""
    lines = text.splitlines()
    for block, printed in reversed(run_page(text, name)):
        if block.output is not None:
            lines[block.output.start + 1 : block.output.end] = printed.splitlines()
    return "\n".join(lines) + "\n"


NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
RULE = re.compile("[─═]+")  # a table's rules widen with its columns


def same_output(documented: str, printed: str, rel: float = 1e-3, abs_tol: float = 1e-6) -> str | None:
    """None when two outputs agree: the same text between the numbers (runs of
    blanks, and of a table's rule characters, counted as one, so a column may
    widen by a digit) and numbers equal
    to `rel` (the last printed digits of an optimum may differ between
    machines). Otherwise a description of the first difference."""
    for k, (a, b) in enumerate(zip(documented.splitlines(), printed.splitlines(), strict=False)):
        text_a, text_b = (" ".join(RULE.sub("-", NUMBER.sub("#", s)).split()) for s in (a, b))
        if text_a != text_b:
            return f"output line {k + 1} differs:\n  documented: {a}\n  printed:    {b}"
        for x, y in zip(NUMBER.findall(a), NUMBER.findall(b), strict=True):
            fx, fy = float(x), float(y)
            if abs(fx - fy) > max(abs_tol, rel * max(abs(fx), abs(fy))):
                return f"output line {k + 1}: {x} documented, {y} printed:\n  documented: {a}\n  printed:    {b}"
    n_doc, n_out = len(documented.splitlines()), len(printed.splitlines())
    if n_doc != n_out:
        return f"{n_doc} output lines documented, {n_out} printed"
    return None


def main(names: list[str]) -> None:
    pages = [DOCS / n for n in names] if names else sorted(DOCS.glob("*.md"))
    home = Path.cwd()
    with tempfile.TemporaryDirectory() as scratch:
        os.chdir(scratch)  # files the examples write land here
        try:
            for page in pages:
                rendered = render(page.read_text(), page.name)
                if rendered != page.read_text():
                    page.write_text(rendered)
                    print(f"updated docs/{page.name}")
        finally:
            os.chdir(home)


if __name__ == "__main__":
    main(sys.argv[1:])
