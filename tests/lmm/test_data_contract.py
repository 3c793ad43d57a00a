"""The data contract (DESIGN.md): accepted inputs, factor coding, missing
values, and a clear exception naming the column or formula position for
each kind of bad input."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

import mixedmodels as mm
from mixedmodels import ColumnError, DataError, FormulaError, NumericalError

FORMULA = "Reaction ~ Days + (1 | Subject)"


@pytest.fixture(scope="module")
def sleep():
    return mm.load_dataset("sleepstudy")


def fit(formula, data, **kw):
    m = mm.Lmer(formula, data=data)
    m.fit(summarize=False, no_warnings=True, **kw)
    return m


@pytest.fixture(scope="module")
def baseline(sleep):
    return fit(FORMULA, sleep)


@pytest.mark.parametrize(
    "convert",
    [
        lambda d: d.lazy(),
        lambda d: d.to_pandas(),
        lambda d: d.to_arrow(),
        lambda d: d.with_columns(pl.col("Subject").cast(pl.Categorical)),
    ],
)
def test_every_input_kind_gives_the_same_fit(sleep, baseline, convert):
    m = fit(FORMULA, convert(sleep))
    np.testing.assert_allclose(m.coefs["Estimate"], baseline.coefs["Estimate"], rtol=1e-10)
    np.testing.assert_allclose(m.theta, baseline.theta, rtol=1e-8)


def test_enum_order_sets_the_reference_level():
    d = mm.load_dataset("machines")
    m = fit("score ~ Machine + (1 | Worker)", d)
    assert m.coefs["term"].to_list() == ["(Intercept)", "MachineB", "MachineC"]
    enum = d.with_columns(pl.col("Machine").cast(pl.Enum(["C", "A", "B"])))
    m2 = fit("score ~ Machine + (1 | Worker)", enum)
    assert m2.coefs["term"].to_list() == ["(Intercept)", "MachineA", "MachineB"]
    # Same model, another parameterisation: identical fitted values.
    np.testing.assert_allclose(m.fits, m2.fits, rtol=1e-7)


def test_boolean_and_integer_columns(sleep):
    d = sleep.with_columns(late=pl.col("Days") > 4, subj=pl.col("Subject").cast(pl.Int64))
    m = fit("Reaction ~ late + (1 | subj)", d)
    assert m.coefs["term"].to_list() == ["(Intercept)", "lateTRUE"]
    assert m.grps == {"subj": 18}


def test_missing_rows_are_dropped_and_reported(sleep, baseline):
    d = sleep.with_columns(
        pl.when(pl.int_range(pl.len()) < 5).then(None).otherwise(pl.col("Reaction")).alias("Reaction"),
        pl.when(pl.int_range(pl.len()) == 7).then(float("nan")).otherwise(pl.col("Days")).alias("Days"),
    )
    m = fit(FORMULA, d)
    assert m.nobs == 174
    assert any("6 rows with missing values were dropped" in w for w in m.warnings)
    assert m.coefs["Estimate"][1] != baseline.coefs["Estimate"][1]


def test_rank_deficient_columns_are_dropped_with_a_message(sleep):
    m = fit("Reaction ~ Days + D2 + (1 | Subject)", sleep.with_columns(D2=pl.col("Days") * 2 + 1))
    assert m.coefs["term"].to_list() == ["(Intercept)", "Days"]
    assert any("rank deficient" in w and "D2" in w for w in m.warnings)


@pytest.mark.parametrize(
    "formula, data_fn, exc, fragment",
    [
        ("Reaction ~ Dayz + (1 | Subject)", None, ColumnError, "'Dayz'"),
        ("Subject ~ Days + (1 | Subject)", None, ColumnError, "response is categorical"),
        ("Reaction ~ Days + (1 | one)", lambda d: d.with_columns(one=pl.lit("a")), ColumnError, "more than one level"),
        ("Reaction ~ Days + (1 | id)", lambda d: d.with_row_index("id"), ColumnError, "fewer levels than observations"),
        ("Reaction ~ Days + (1 | Subject)", lambda d: d.head(0), DataError, "no rows"),
        ("Reaction ~ Days + (1 | Subject", None, FormulaError, "position 30"),
        ("Reaction ~ Days +", None, FormulaError, "ends after '+'"),
        ("Reaction ~ Days $ 2 + (1 | Subject)", None, FormulaError, "unexpected character '$'"),
        # a byte-order mark or zero-width space pasted in (the lexer once looped on these)
        ("\ufeffReaction ~ Days + (1 | Subject)", None, FormulaError, "unexpected character '\ufeff'"),
        ("Reaction ~ Days +\u200b(1 | Subject)", None, FormulaError, "at position 17"),
        ("Reaction ~ Days + (1 | Subject) + \U0001f600", None, FormulaError, "unexpected character"),
        ("Reaction ~ Days", None, DataError, "no random-effects term"),
        ("Reaction ~ log(Days) + (1 | Subject)", None, ColumnError, "log(Days)"),
        ("Reaction ~ foo(Days) + (1 | Subject)", None, ColumnError, "unknown function 'foo'"),
        ("Reaction ~ dt + (1 | Subject)", lambda d: d.with_columns(dt=pl.date(2020, 1, 1)), ColumnError, "'dt'"),
        ("Reaction ~ Days + (1 | Subject)", lambda d: d.with_columns(Reaction=pl.lit(None)), ColumnError, "'Reaction'"),
        ("Reaction ~ relevel(Subject, ref = 'nope') + (1 | Days)", None, ColumnError, "'nope' is not a level"),
        # formulas R refuses (or reads otherwise) are errors, never silently refitted as something else
        ("Reaction ~ Reaction + (1 | Subject)", None, FormulaError, "response 'Reaction' is also a predictor"),
        ("Reaction ~ Days + ((1 | Subject) | Days)", None, FormulaError, "cannot contain another '|'"),
        ("Reaction ~ C(factor(Days), sum, 3) + (1 | Subject)", None, ColumnError, "C() takes at most 2 argument"),
        ("Reaction ~ poly(Days, 3, ra = TRUE) + (1 | Subject)", None, ColumnError, "poly() has no argument 'ra'"),
        ("Reaction ~ exp(Days12 = TRUE) + (1 | Subject)", None, ColumnError, "exp() has no argument 'Days12'"),
        ("Reaction ~ relevel(factor(Days), ref = 11) + (1 | Subject)", None, ColumnError, "not a level position"),
        ("Reaction ~ Days + offset(factor(Days)) + (1 | Subject)", None, ColumnError, "makes a factor, but numbers"),
        ("Reaction ~ I(scale(Days) + 1) + (1 | Subject)", None, ColumnError, "scale() can only be a term"),
        # data beyond double precision, or without residual variation: an error, never NaN estimates
        (FORMULA, lambda d: d.with_columns(pl.col("Reaction") * 1e300), NumericalError, "rescale the response"),
        (FORMULA, lambda d: d.with_columns(pl.col("Reaction") * 1e-200), NumericalError, "rescale the response"),
        (FORMULA, lambda d: d.with_columns(pl.col("Days") * 1e300), ColumnError, "'Days': values up to 9.00e300"),
        (FORMULA, lambda d: d.with_columns(Reaction=pl.lit(1.0)), DataError, "fitted exactly by the fixed effects"),
        ("Reaction ~ R2 + (1 | Subject)", lambda d: d.with_columns(R2=pl.col("Reaction") * 2), DataError, "exactly"),
    ],
)
def test_bad_input_raises_a_clear_error(sleep, formula, data_fn, exc, fragment):
    data = data_fn(sleep) if data_fn else sleep
    with pytest.raises(exc) as info:
        fit(formula, data)
    assert fragment in str(info.value)


@pytest.mark.parametrize(
    "convert",
    [
        lambda d: d,
        lambda d: d.lazy(),
        lambda d: d.to_pandas(),
        lambda d: d.to_arrow(),
    ],
)
def test_missing_columns_are_reported_at_construction(sleep, convert):
    with pytest.raises(ColumnError) as info:
        mm.Lmer("Reaction ~ Dayz + (1 | Subject)", data=convert(sleep))
    message = str(info.value)
    assert "'Dayz'" in message and "Reaction, Days, Subject" in message
    with pytest.raises(ColumnError, match="'Dayz', 'Subj'"):
        mm.Lmer("Reaction ~ Dayz + (1 | Subj)", data=convert(sleep))


def test_bad_data_object_and_weights(sleep):
    with pytest.raises(DataError, match="polars DataFrame"):
        mm.Lmer(FORMULA, data=[1, 2, 3])
    with pytest.raises(ColumnError, match=r"column '\(weights\)': weights must be positive and finite; row 0 has -1"):
        fit(FORMULA, sleep, weights=-np.ones(sleep.height))
    with pytest.raises(DataError, match="one value a row"):
        fit(FORMULA, sleep, weights=np.ones(3))


def test_unreadable_pandas_columns_are_named(sleep):
    df = sleep.to_pandas()
    df.columns = ["Reaction", "Days", "Days"]  # a repeated name
    with pytest.raises(ColumnError, match="column 'Days': the pandas frame has more than one column of that name"):
        mm.Lmer("Reaction ~ Days + (1 | Days)", data=df)
    df = sleep.to_pandas()
    df["Subject"] = df["Subject"].astype(object)
    df.loc[3, "Subject"] = 3  # strings and an int in one object column
    with pytest.raises(ColumnError, match="column 'Subject': its values cannot be read"):
        mm.Lmer(FORMULA, data=df)
    df = sleep.to_pandas()
    df["junk"] = [object()] * len(df)  # a column the model does not read may be anything
    assert mm.Lmer(FORMULA, data=df).data.columns == ["Reaction", "Days", "Subject"]


def test_weights_array_never_overwrites_a_data_column(sleep):
    d = sleep.rename({"Days": "(weights)"})
    m = fit("Reaction ~ `(weights)` + (1 | Subject)", d, weights=np.full(d.height, 2.0))
    assert m.coefs["term"].to_list() == ["(Intercept)", "`(weights)`"]


def test_errors_are_python_exceptions_with_builtin_bases():
    assert issubclass(FormulaError, mm.MixedModelsError)
    assert issubclass(ColumnError, mm.MixedModelsError)
