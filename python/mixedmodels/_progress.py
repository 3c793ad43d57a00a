"""Long loops of the core run in chunks, so that a progress bar can move
between them (the core releases the GIL inside each chunk)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")

# A run that has taken this long shows a bar from then on (progress=None).
SHOW_AFTER_S = 2.0


def run_in_chunks(
    items: Sequence[T],
    work: Callable[[list[T]], Any],
    label: str,
    progress: bool | None,
    pieces: int = 20,
) -> list[Any]:
    """``work`` on consecutive chunks of ``items``; the chunks' results in
    order. ``progress``: True shows a bar on stderr, False never, None once
    the run has taken more than two seconds. Without a bar the run is split
    only as far as it needs: after a first chunk of about 1/``pieces``, a run
    expected to end within two seconds does the rest in one call (each call
    has a set-up cost)."""
    total = len(items)
    size = max(1, -(-total // pieces))
    out: list[Any] = []
    start = time.perf_counter()
    show = progress
    done = 0
    while done < total:
        chunk = list(items[done : done + size])
        out.append(work(chunk))
        done += len(chunk)
        elapsed = time.perf_counter() - start
        if show is None and elapsed > SHOW_AFTER_S and done < total:
            show = True
        if show:
            _bar(label, done, total, elapsed)
        elif elapsed / done * total < SHOW_AFTER_S:
            size = total - done  # a short run: the rest at once
    if show:
        sys.stderr.write("\n")
    return out


def _bar(label: str, done: int, total: int, elapsed: float, width: int = 30) -> None:
    filled = int(width * done / total)
    eta = elapsed / done * (total - done) if done else 0.0
    sys.stderr.write(
        f"\r{label} [{'#' * filled}{'.' * (width - filled)}] {done}/{total} {elapsed:.1f}s elapsed, ~{eta:.1f}s left"
    )
    sys.stderr.flush()
