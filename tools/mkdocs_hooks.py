"""mkdocs hooks (see mkdocs.yml): the plot gallery's images are drawn by the
build. The examples of docs/plots.md run (as tests/docs runs them) in a
scratch directory with matplotlib's Agg backend; every PNG they save becomes
a file of the site, next to the page that shows it."""

from __future__ import annotations

import os
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
