"""Saving and loading fitted models (pymer4's ``save_model`` / ``load_model``).

A model file is one self-describing zip archive:

- ``metadata.json``: the format's name and version, the package version that
  wrote it, the model's class, formula, family and link, the ``fit()``
  arguments, and the estimates it was fitted to (the covariance parameters
  ``theta`` and the optimizer's record);
- ``data.parquet``: the data the model was given (so loading needs no other
  file);
- ``coefs.parquet``: the coefficient table as it was (its intervals may come
  from a bootstrap, which is not redrawn).

Loading rebuilds the fitted model from the data at the stored estimates
without optimizing: a linear mixed model at its covariance parameters
``theta``; a generalized one (``Glmer``, every family and ``nAGQ``) at
``theta``, ``beta``, the conditional modes and the linear predictor of
PIRLS's last working weights, with the optimizer's record and the Hessian's
covariance as they were; a GLM (``Lm(family=...)``) at ``beta`` and its last
IRLS weights. Least squares (``Lm``, ``Lm2``) is closed-form: its one solve
is repeated, and neither the bootstrap nor the permutations are (their
results are in ``coefs``). Every result, ``predict``, ``anova`` and
``post_hoc`` is then the saved model's. A
file from a newer format version is refused with a message naming the
versions. The same state serves ``pickle`` and ``copy.deepcopy`` of a model
(so joblib and multiprocessing work).
"""

from __future__ import annotations

import io as _io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from mixedmodels._format import FORMAT, FORMAT_VERSION, check_format
from mixedmodels.exceptions import DataError
from mixedmodels.model import FittedModel

__all__ = ["FORMAT", "FORMAT_VERSION", "load_model", "save_model"]

_TABLES = ("data", "coefs")


def save_model(model: Any, path: str | Path) -> Path:
    """Write ``model`` (fitted or not) to ``path`` (any name; pymer4 used
    ``.joblib``); returns the path."""
    state = model.__getstate__()
    tables = {name: state.pop(name) for name in _TABLES if state.get(name) is not None}
    metadata = {"format": FORMAT, **state}
    path = Path(path)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("metadata.json", json.dumps(metadata, indent=2, default=_encode))
        for name, table in tables.items():
            buffer = _io.BytesIO()
            table.write_parquet(buffer)
            archive.writestr(f"{name}.parquet", buffer.getvalue())
    return path


def load_model(path: str | Path) -> Any:
    """The model saved at ``path``: fitted at the saved estimates, with the
    saved data."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, IsADirectoryError) as e:
        raise DataError(f"{path}: not a mixedmodels model file ({e})") from None
    with archive:
        names = set(archive.namelist())
        if "metadata.json" not in names:
            raise DataError(f"{path}: not a mixedmodels model file (no metadata.json)")
        metadata = json.loads(archive.read("metadata.json"), object_hook=_decode)
        check_format(metadata, str(path))
        tables = {
            n: pl.read_parquet(_io.BytesIO(archive.read(f"{n}.parquet"))) for n in _TABLES if f"{n}.parquet" in names
        }
    metadata.pop("format")
    cls = FittedModel.model_class(metadata.get("class", ""))
    if cls is None:
        raise DataError(f"{path}: a model of class {metadata.get('class')!r}, which this version does not have")
    model = cls.__new__(cls)
    model.__setstate__({**metadata, **tables})
    return model


def _encode(x: Any) -> Any:
    if isinstance(x, np.ndarray):
        return {"__ndarray__": x.tolist(), "dtype": str(x.dtype)}
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, pl.Series):
        return {"__ndarray__": x.to_list(), "dtype": "float64"}
    raise TypeError(f"cannot save a {type(x).__name__} in a model file")


def _decode(d: dict[str, Any]) -> Any:
    if "__ndarray__" in d:
        return np.asarray(d["__ndarray__"], dtype=d["dtype"])
    return d
