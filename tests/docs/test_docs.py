"""The user guide stays executable: every ```python block of every docs/*.md
page runs, in order, in one fresh namespace per page (so a block can use the
names an earlier block of the same page defined).

A block fenced ```python no-run is shown to readers but not run here (slow
examples, or ones that need R). Other fences (```sh, ```r, plain ``` output
blocks) are never run. Blocks run in a temporary working directory, so files
an example writes do not land in the repository.
"""

from __future__ import annotations

import re
import traceback
import warnings
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
PAGES = sorted(DOCS.glob("*.md"))

FENCE = re.compile(r"^(`{3,})\s*([^`\s]*)\s*(.*?)\s*$")


@dataclass
class Block:
    number: int  # 1-based among the page's python blocks (run or not)
    line: int  # 1-based line of the opening fence
    code: str
    run: bool


def python_blocks(text: str) -> list[Block]:
    """The ```python blocks of a Markdown page, in order."""
    blocks: list[Block] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        ticks, lang, rest = m.groups()
        j = i + 1
        while j < len(lines) and not re.match(rf"^{ticks}`*\s*$", lines[j]):
            j += 1
        if j == len(lines):
            raise ValueError(f"line {i + 1}: code fence is never closed")
        if lang == "python":
            flags = rest.split()
            blocks.append(Block(len(blocks) + 1, i + 1, "\n".join(lines[i + 1 : j]), "no-run" not in flags))
        i = j + 1
    return blocks


class ExampleError(Exception):
    """A block of a page raised."""


def run_page(text: str, name: str) -> int:
    """Run a page's python blocks in order in one fresh namespace; return how
    many ran. Raises ExampleError naming the page and block on the first failure."""
    namespace: dict[str, object] = {"__name__": f"docs.{Path(name).stem}"}
    ran = 0
    for block in python_blocks(text):
        if not block.run:
            continue
        where = f"docs/{name}: python block {block.number} (line {block.line})"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the pages show the warnings they expect
            try:
                exec(compile(block.code, where, "exec"), namespace)
            except Exception as e:
                raise ExampleError(
                    f"{where} raised {type(e).__name__}: {e}\n\n{block.code}\n\n{traceback.format_exc()}"
                ) from e
        ran += 1
    return ran


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_page_examples_run(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    try:
        run_page(page.read_text(), page.name)
    except ExampleError as e:
        pytest.fail(str(e), pytrace=False)
    finally:
        pl.Config.restore_defaults()  # a page may widen polars' tables


def test_pages_have_examples() -> None:
    assert PAGES, f"no pages in {DOCS}"
    for page in PAGES:
        assert python_blocks(page.read_text()), f"docs/{page.name} has no python example"


def test_index_links_every_page() -> None:
    index = (DOCS / "index.md").read_text()
    linked = set(re.findall(r"\]\(([\w./-]+\.md)(?:#[\w-]*)?\)", index))
    missing = [p.name for p in PAGES if p.name != "index.md" and p.name not in linked]
    assert not missing, f"docs/index.md does not link {missing}"


def test_block_parser() -> None:
    text = "\n".join(
        [
            "# Page",
            "```python",
            "a = 1",
            "```",
            "```",
            "output, not code",
            "```",
            "```python no-run",
            "slow()",
            "```",
            "````md",
            "```python",
            "not a block of its own",
            "```",
            "````",
            "```sh",
            "mixedmodels datasets",
            "```",
            "```python",
            "b = a + 1",
            "```",
        ]
    )
    blocks = python_blocks(text)
    assert [(b.number, b.line, b.code, b.run) for b in blocks] == [
        (1, 2, "a = 1", True),
        (2, 8, "slow()", False),
        (3, 19, "b = a + 1", True),
    ]
    with pytest.raises(ValueError, match="never closed"):
        python_blocks("```python\nx = 1\n")


def test_failure_names_page_and_block() -> None:
    page = "```python\nx = 1\n```\n\n```python no-run\nnot run at all(\n```\n\n```python\ny = x / 0\n```\n"
    with pytest.raises(ExampleError, match=r"docs/bad\.md: python block 3 \(line 9\) raised ZeroDivisionError"):
        run_page(page, "bad.md")
    assert run_page("```python\nx = 1\n```\n```python\nassert x == 1\n```\n", "ok.md") == 2
