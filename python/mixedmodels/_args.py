"""Checks of the scalar arguments users pass (counts, seeds, sizes), so that a
bad value raises a DataError naming the argument rather than an OverflowError
from the bindings or an allocation failure in the core."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from mixedmodels._core import DataError

MAX_SEED = 2**64 - 1


def whole_number(value: Any, name: str, minimum: int = 0, maximum: int | None = None) -> int:
    """``value`` as an int within ``[minimum, maximum]``; whole floats (``25.0``) pass."""
    if isinstance(value, bool) or not (
        isinstance(value, (int, np.integer)) or (isinstance(value, (float, np.floating)) and float(value).is_integer())
    ):
        raise DataError(f"{name} must be a whole number, not {value!r}")
    number = int(value)
    if number < minimum or (maximum is not None and number > maximum):
        bounds = f"at least {minimum}" if maximum is None else f"between {minimum} and {maximum}"
        raise DataError(f"{name} must be {bounds}, not {number}")
    return number


def seed_value(seed: Any, name: str = "seed") -> int:
    """A seed for the core's generator: the given one (0 to 2**64 - 1), or a fresh random one."""
    if seed is None:
        return int(np.random.default_rng().integers(0, 2**63))
    return whole_number(seed, name, 0, MAX_SEED)


def check_fits_in_memory(n_values: int, what: str, copies: int = 3) -> None:
    """Refuse a result of ``n_values`` doubles (held ``copies`` times on its way
    to the user) that cannot fit in this machine's memory, before the core tries."""
    need = n_values * 8 * copies
    try:
        have = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):  # not a POSIX system: no limit known
        return
    if need > have:
        raise DataError(f"{what} would need about {need / 1e9:.1f} GB; this machine has {have / 1e9:.1f} GB")


# pymer4 keywords this package does not take, and where the docs say so
# pymer4 fit keywords not available here (none left: see docs/for_pymer4_users.md).
PYMER4_UNSUPPORTED: tuple[str, ...] = ()
PYMER4_DOCS = "docs/for_pymer4_users.md"


def reject_keywords(function: str, keywords: dict[str, Any]) -> None:
    """Raise TypeError for keyword arguments ``function`` does not take (caught
    by ``**keywords``), naming the first; a pymer4 keyword not supported here
    points to the page that lists them."""
    if not keywords:
        return
    name = next(iter(keywords))
    message = f"{function}() got an unexpected keyword argument '{name}'"
    if name in PYMER4_UNSUPPORTED:
        message += f": pymer4's {name}= is not available here (see {PYMER4_DOCS})"
    raise TypeError(message)
