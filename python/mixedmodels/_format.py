"""The saved-model format's name and version, and the check that a file (or
a pickled state) is one this version reads. Shared by the models' pickling
(:mod:`mixedmodels.model`) and :mod:`mixedmodels.io`."""

from __future__ import annotations

from typing import Any

from mixedmodels.exceptions import DataError

__all__ = ["FORMAT", "FORMAT_VERSION", "check_format"]

FORMAT = "mixedmodels-model"
FORMAT_VERSION = 1


def check_format(metadata: dict[str, Any], where: str) -> None:
    """Refuse a file of another format or of a newer format version."""
    if metadata.get("format") != FORMAT:
        raise DataError(f"{where}: not a mixedmodels model file")
    version = metadata.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        writer = metadata.get("mixedmodels_version", "a newer version")
        raise DataError(
            f"{where}: written by mixedmodels {writer} in model-file format {version}; this version reads "
            f"format {FORMAT_VERSION} and earlier: upgrade mixedmodels to load it"
        )
