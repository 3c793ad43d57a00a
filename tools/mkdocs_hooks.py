"""mkdocs hooks (see mkdocs.yml): the plot gallery's images are drawn by the
build. The examples of docs/plots.md run (as tests/docs runs them) in a
scratch directory with matplotlib's Agg backend; every PNG they save becomes
a file of the site, next to the page that shows it."""

from __future__ import annotations

import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from doc_examples import run_page

GALLERY = "plots.md"


def on_files(files: Any, config: Any) -> Any:
    from mkdocs.structure.files import File

    os.environ.setdefault("MPLBACKEND", "Agg")
    page = Path(config["docs_dir"]) / GALLERY
    home = Path.cwd()
    with tempfile.TemporaryDirectory() as scratch:
        os.chdir(scratch)
        try:
            run_page(page.read_text(), GALLERY)
        finally:
            os.chdir(home)
        for image in sorted(Path(scratch).glob("*.png")):
            files.append(File.generated(config, image.name, content=image.read_bytes()))
    return files


_CODE_IN_TABLE = re.compile(r"`[^`\n]*`")
_ROLE = re.compile(r":(?:mod|func|class|meth|attr|data|obj):(<code>)~?")


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    """Pipes escaped for GitHub's tables (``(1 \\| g)``) inside code spans of
    table rows: Python-Markdown already keeps them out of the columns, and
    would show the backslash."""
    lines = markdown.split("\n")
    for i, line in enumerate(lines):
        if line.lstrip().startswith("|"):
            lines[i] = _CODE_IN_TABLE.sub(lambda m: m.group(0).replace("\\|", "|"), line)
    return "\n".join(lines)


def on_page_content(html: str, **kwargs: Any) -> str:
    """Sphinx roles left in docstrings (``:func:`~m.f```) shown as plain
    code, and their doctest examples as code blocks."""
    return _doctests_as_code(_ROLE.sub(r"\1", html))


_DOCTEST = re.compile(
    r"<blockquote>\s*<blockquote>\s*<blockquote>\s*<p>(.*?)</p>\s*</blockquote>\s*</blockquote>\s*</blockquote>", re.S
)


def _doctests_as_code(html: str) -> str:
    """Doctest examples of docstrings (``>>>`` lines, which Markdown reads as
    nested quotes) shown as code blocks."""
    return _DOCTEST.sub(lambda m: f'<pre class="doctest"><code>{m.group(1)}</code></pre>', html)
