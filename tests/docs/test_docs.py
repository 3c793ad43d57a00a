"""The user guide stays executable and true: every ```python block of every
docs/*.md page runs, in order, in one fresh namespace per page (so a block can
use the names an earlier block of the same page defined), and prints the
output shown under it (``tools/doc_examples.py`` rewrites those outputs).

A block fenced ```python no-run is shown to readers but not run here (slow
examples, or ones that need R). Other fences (```sh, ```r) are never run, and
an output fenced ```varies (timings) is not compared. Blocks run in a
temporary working directory, so files an example writes do not land in the
repository.
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))

from doc_examples import DOCS, ExampleError, python_blocks, render, run_page, same_output

PAGES = sorted(DOCS.glob("*.md"))


def command_examples(text: str) -> list[tuple[str, str]]:
    """The page's one-line ```sh blocks that run ``mixedmodels ...``, each with
    the output block right after it."""
    out = []
    pattern = r"```sh\n(mixedmodels [^\n]*)\n```\n\n```\n(.*?)\n```"
    for m in re.finditer(pattern, text, flags=re.S):
        out.append((m.group(1), m.group(2)))
    return out


COMMAND_PAGES = [p for p in PAGES if command_examples(p.read_text())]


@pytest.mark.parametrize("page", COMMAND_PAGES, ids=[p.name for p in COMMAND_PAGES])
def test_command_line_examples_print_what_the_page_shows(page: Path) -> None:
    from mixedmodels.cli import main

    for command, documented in command_examples(page.read_text()):
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            assert main(shlex.split(command)[1:]) == 0, command
        difference = same_output(documented, printed.getvalue().rstrip("\n"), rel=1e-4)
        assert difference is None, (
            f"docs/{page.name}: `{command}` no longer prints its documented output ({difference})"
        )


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_page_examples_run_and_print_what_the_page_shows(
    page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    try:
        results = run_page(page.read_text(), page.name)
    except ExampleError as e:
        pytest.fail(str(e), pytrace=False)
    for block, printed in results:
        if block.output is not None and block.output.checked:
            difference = same_output(block.output.text, printed)
            assert difference is None, (
                f"docs/{page.name}: python block {block.number} (line {block.line}) no longer prints its "
                f"documented output ({difference}); run `python tools/doc_examples.py {page.name}`"
            )


def test_pages_have_examples() -> None:
    assert PAGES, f"no pages in {DOCS}"
    for page in PAGES:
        assert python_blocks(page.read_text()), f"docs/{page.name} has no python example"


def test_index_links_every_page() -> None:
    index = (DOCS / "index.md").read_text()
    linked = set(re.findall(r"\]\(([\w./-]+\.md)(?:#[\w-]*)?\)", index))
    missing = [p.name for p in PAGES if p.name != "index.md" and p.name not in linked]
    assert not missing, f"docs/index.md does not link {missing}"


def test_site_navigation_lists_every_page() -> None:
    """mkdocs.yml's nav names every page of the user guide (a page left out
    is built but reachable from nowhere)."""
    nav = (DOCS.parent / "mkdocs.yml").read_text()
    listed = set(re.findall(r":\s*([\w/.-]+\.md)\s*$", nav, flags=re.M))
    missing = [p.name for p in PAGES if p.name not in listed]
    assert not missing, f"mkdocs.yml's nav does not list {missing}"
    absent = [name for name in listed if not (DOCS / name).exists()]
    assert not absent, f"mkdocs.yml's nav lists pages that do not exist: {absent}"


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
    assert blocks[0].output is not None and blocks[0].output.text == "output, not code"
    assert blocks[1].output is None and blocks[2].output is None
    with pytest.raises(ValueError, match="never closed"):
        python_blocks("```python\nx = 1\n")


def test_failure_names_page_and_block() -> None:
    page = "```python\nx = 1\n```\n\n```python no-run\nnot run at all(\n```\n\n```python\ny = x / 0\n```\n"
    with pytest.raises(ExampleError, match=r"docs/bad\.md: python block 3 \(line 9\) raised ZeroDivisionError"):
        run_page(page, "bad.md")
    assert len(run_page("```python\nx = 1\n```\n```python\nassert x == 1\n```\n", "ok.md")) == 2


def test_render_writes_prints_warnings_and_final_value() -> None:
    page = (
        "```python\nimport warnings\nprint('a')\nwarnings.warn('careful')\n6 * 7\n```\n\n```\nstale\n```\n"
        "```python\nx = None\nx\n```\n```varies\nold\n```\n"
    )
    assert render(page, "p.md") == (
        "```python\nimport warnings\nprint('a')\nwarnings.warn('careful')\n6 * 7\n```\n\n"
        "```\na\nUserWarning: careful\n42\n```\n```python\nx = None\nx\n```\n```varies\n```\n"
    )
    (block, printed), _ = run_page(page, "p.md")
    assert block.output is not None and block.output.checked and printed == "a\nUserWarning: careful\n42"
    assert not python_blocks(page)[1].output.checked


def test_output_comparison_allows_last_digits_and_column_width_only() -> None:
    documented = "term  Estimate  DF\n(Intercept)  251.4051  17.000002"
    assert same_output(documented, "term  Estimate  DF\n(Intercept)  251.4052  17.00001") is None
    assert "251.4051 documented, 261.4051 printed" in same_output(
        documented, "term  Estimate  DF\n(Intercept)  261.4051  17.000002"
    )
    assert "line 1 differs" in same_output(documented, "term  Est  DF\n(Intercept)  251.4051  17.000002")
    assert "2 output lines documented, 3 printed" in same_output(documented, documented + "\nmore")
    # A polars table whose column gains a digit redraws its rules one character longer.
    assert same_output("┌─────┬───┐\n│ 1.5 ┆ a │", "┌──────┬───┐\n│ 1.51 ┆ a │", rel=0.01) is None
