"""statsmodels' ``sm.datasets.get_rdataset`` for the datasets bundled with
this package (no download): ``get_rdataset("dietox", "geepack").data``."""

from __future__ import annotations

from types import SimpleNamespace

from mixedmodels.datasets import DESCRIPTIONS, load_dataset

__all__ = ["get_rdataset"]


def get_rdataset(dataname: str, package: str = "datasets", cache: bool = False) -> SimpleNamespace:
    """A bundled dataset as statsmodels returns an R dataset: ``.data`` is a
    pandas DataFrame (needs the ``pandas`` extra), ``.title`` its description."""
    frame = load_dataset(dataname)
    try:
        data = frame.to_pandas()
    except ImportError:
        raise ImportError("get_rdataset returns pandas data: pip install 'mixedmodels[pandas]'") from None
    return SimpleNamespace(data=data, package=package, title=DESCRIPTIONS[dataname.lower()], from_cache=True)
