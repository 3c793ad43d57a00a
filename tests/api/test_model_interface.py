"""The structure of the Python API: the model classes and what each exposes,
the read-only interface feature modules use, exceptions that are also the
builtins the documentation names, unknown keywords rejected by name, and
modules that import on their own (no import cycles)."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import mixedmodels as mm

PACKAGE = Path(mm.__file__).parent


@pytest.fixture(scope="module")
def sleep() -> pl.DataFrame:
    return mm.load_dataset("sleepstudy")


@pytest.fixture(scope="module")
def lmm(sleep: pl.DataFrame) -> mm.Lmer:
    m = mm.Lmer("Reaction ~ Days + (Days | Subject)", data=sleep)
    m.fit(summarize=False)
    return m


@pytest.fixture(scope="module")
def glmm() -> mm.Glmer:
    m = mm.Glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", mm.load_dataset("cbpp"))
    m.fit(summarize=False, no_warnings=True)
    return m


def test_lmer_with_a_family_is_a_glmer(sleep: pl.DataFrame) -> None:
    d = sleep.with_columns(b=pl.col("Reaction") > 300)
    g = mm.Lmer("b ~ Days + (1 | Subject)", data=d, family="binomial")
    assert type(g) is mm.Glmer and g.family == "binomial"
    assert isinstance(g, mm.MixedModel) and isinstance(g, mm.FittedModel)
    assert type(mm.Lmer("Reaction ~ Days + (1 | Subject)", data=sleep)) is mm.Lmer


def test_each_class_exposes_what_works_for_it(lmm: mm.Lmer, glmm: mm.Glmer) -> None:
    assert (lmm.is_generalized, lmm.is_mixed, glmm.is_generalized, glmm.is_mixed) == (False, True, True, True)
    for name in ("anova", "ranova", "contest"):
        assert callable(getattr(lmm, name))
        assert not hasattr(glmm, name)
        with pytest.raises(mm.DataError, match="linear mixed models"):
            getattr(glmm, name)
    for name in ("bootstrap", "confint"):  # the parametric bootstrap and profiles of both kinds
        assert callable(getattr(lmm, name)) and callable(getattr(glmm, name))
    with pytest.raises(AttributeError, match="no attribute 'no_such_thing'"):
        _ = glmm.no_such_thing  # type: ignore[attr-defined]


def test_the_read_only_interface(lmm: mm.Lmer, glmm: mm.Glmer) -> None:
    for m in (lmm, glmm):
        n, p = m.nobs, len(m.fixed_names)
        assert m.fit_rows.shape == (n,) and m.fit_mask.sum() == n
        assert m.prior_weights.shape == m.offset.shape == m.response.shape == (n,)
        assert m.design_matrix.shape == (n, p) and m.vcov.shape == (p, p)
        np.testing.assert_allclose(m.beta, m.coefs["Estimate"])
        assert [c for t in m.fixed_terms for c in t.columns] == list(range(1, p))
        np.testing.assert_allclose(m.fixed_design(m.fit_frame), m.design_matrix.to_numpy())
        assert len(m.sd_cor_names) == len(m.theta) and m.random_terms[0].group in m.grps
        assert m.fit_frame.height == n and m.npar >= p
    np.testing.assert_allclose(lmm.response, lmm.fits + lmm.residuals)
    x, names, assign = lmm.full_design(lmm.fit_frame)
    assert names == lmm.fixed_names and assign == [0, 1] and x.shape == (180, 2)


def test_a_copy_refits_like_the_model(lmm: mm.Lmer) -> None:
    copy = lmm.with_formula()
    assert not copy.fitted and copy.formula == lmm.formula
    copy.fit(summarize=False, **lmm.fit_options)
    np.testing.assert_allclose(copy.beta, lmm.beta)


def test_exceptions_are_the_builtins_documented(lmm: mm.Lmer, sleep: pl.DataFrame) -> None:
    for error, builtin in (
        (mm.FormulaError, ValueError),
        (mm.ColumnError, ValueError),
        (mm.DataError, ValueError),
        (mm.NumericalError, ArithmeticError),
    ):
        assert issubclass(error, mm.MixedModelsError) and issubclass(error, builtin)
    with pytest.raises(ValueError, match="column 'Days'"):
        lmm.predict(sleep.drop("Days"))
    with pytest.raises(ValueError, match="position"):
        mm.Lmer("Reaction ~ (Days", data=sleep)


def test_unknown_keywords_are_type_errors(lmm: mm.Lmer, glmm: mm.Glmer, sleep: pl.DataFrame) -> None:
    with pytest.raises(TypeError, match=r"Glmer.fit\(\) got an unexpected keyword argument 'contrl'"):
        glmm.fit(contrl="bobyqa")
    with pytest.raises(TypeError, match=r"Lmer.fit\(\) got an unexpected keyword argument 'Reml'"):
        mm.Lmer("Reaction ~ Days + (1 | Subject)", data=sleep).fit(Reml=False)
    with pytest.raises(TypeError, match="unexpected keyword argument 'refti'"):
        mm.anova(lmm, refti=False)


def test_no_module_imports_inside_a_function() -> None:
    """Imports sit at the top of each module (no import inside a function to
    dodge a cycle); pandas and matplotlib, optional dependencies, are the exception."""
    late = []
    for path in sorted(PACKAGE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for inner in ast.walk(node):
                    if isinstance(inner, (ast.Import, ast.ImportFrom)):
                        names = [a.name for a in inner.names] if isinstance(inner, ast.Import) else [inner.module]
                        if names[0].split(".")[0] not in ("pandas", "matplotlib"):
                            late.append(f"{path.name}:{inner.lineno} {names}")
    assert not late, late
