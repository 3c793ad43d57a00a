"""mixedmodels: mixed-effects models for Python.

lme4's models and formula syntax, lmerTest's Satterthwaite inference, a Rust
core (faer, rayon) and polars data frames, with no R anywhere.

>>> from mixedmodels import Lmer, load_dataset
>>> m = Lmer("Reaction ~ Days + (Days | Subject)", data=load_dataset("sleepstudy"))
>>> coefs = m.fit(summarize=False)
"""

from mixedmodels._core import __version__
from mixedmodels.compare import anova, ranova
from mixedmodels.datasets import list_datasets, load_dataset
from mixedmodels.exceptions import (
    ColumnError,
    DataError,
    FitStoppedError,
    FormulaError,
    MixedModelsError,
    NumericalError,
)
from mixedmodels.glmer import Glmer
from mixedmodels.lm import Lm
from mixedmodels.lm2 import Lm2
from mixedmodels.lmer import Lmer
from mixedmodels.mixed import MixedModel
from mixedmodels.model import FittedModel
from mixedmodels.sm import MixedLM, mixedlm

__all__ = [
    "ColumnError",
    "DataError",
    "FitStoppedError",
    "FittedModel",
    "FormulaError",
    "Glmer",
    "Lm",
    "Lm2",
    "Lmer",
    "MixedLM",
    "MixedModel",
    "MixedModelsError",
    "NumericalError",
    "__version__",
    "anova",
    "list_datasets",
    "load_dataset",
    "mixedlm",
    "ranova",
]
