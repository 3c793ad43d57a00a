"""A statsmodels-style front end on this package's engine: statsmodels'
``MixedLM`` / ``smf.mixedlm`` model description (``groups``, ``re_formula``,
``vc_formula``), translated to lme4's formula and fitted as an
:class:`~mixedmodels.Lmer`, with results that read like statsmodels'
``MixedLMResults`` (pandas objects).

``import mixedmodels.sm as sm`` stands for ``import statsmodels.api as sm``
(``sm.MixedLM``, ``sm.regression.mixed_linear_model``, and
``sm.datasets.get_rdataset`` for the bundled datasets).

>>> import mixedmodels.formula.api as smf  # for statsmodels.formula.api
>>> from mixedmodels import load_dataset
>>> data = load_dataset("dietox")
>>> mdf = smf.mixedlm("Weight ~ Time", data, groups=data["Pig"]).fit()
>>> round(mdf.cov_re.iloc[0, 0], 2)
40.39

See docs/statsmodels.md for the translation and where the answers differ.
"""

from mixedmodels.sm import datasets, regression
from mixedmodels.sm.model import MixedLM, mixedlm
from mixedmodels.sm.params import MixedLMParams
from mixedmodels.sm.results import MixedLMResults
from mixedmodels.sm.spec import VCSpec
from mixedmodels.sm.summary import Summary

__all__ = ["MixedLM", "MixedLMParams", "MixedLMResults", "Summary", "VCSpec", "datasets", "mixedlm", "regression"]
