"""One model, four engines: in memory, a polars LazyFrame over Parquet files
(streaming), Dask (a LocalCluster of two processes on 127.0.0.1) and Spark
(local[2] on 127.0.0.1, UI off). Each engine forms the sums, the core fits
them; the answers must be the in-memory fit's.

Agreement: the criterion at a given theta is the same function (1e-10
relative); at the optimum, BOBYQA (derivative-free) locates theta only to
about 1e-8 relative, where the criterion's rounding (1e-16 of its value)
hides the rest, so theta-dependent results are compared at 2e-7 (norm-wise
relative); the fixed effects and the criterion's value agree far closer.

Dask and Spark tests skip, saying why, without their packages or without
Java; one cluster and one Spark session serve the module.
"""

from __future__ import annotations

import shutil
import warnings

import numpy as np
import polars as pl
import pytest
from outofcore_data import MODELS, make_data, write_parquet

import mixedmodels as mm

CRITERION = 1e-10
AT_OPTIMUM = 2e-7


@pytest.fixture(scope="module")
def data() -> pl.DataFrame:
    return make_data()


@pytest.fixture(scope="module")
def parquet(data, tmp_path_factory) -> str:
    return write_parquet(data, str(tmp_path_factory.mktemp("parts")))


@pytest.fixture(scope="module")
def in_memory(data):
    return [fit(formula, data, kw) for formula, kw in MODELS]


@pytest.fixture(scope="module")
def dask_client():
    pytest.importorskip("dask.dataframe", reason="Dask tests need the dask extra")
    distributed = pytest.importorskip("distributed", reason="Dask tests need the dask extra (distributed)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cluster = distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
        )
        client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


@pytest.fixture(scope="module")
def spark():
    if shutil.which("java") is None:
        pytest.skip("Spark tests need Java (install openjdk-17-jre-headless)")
    pytest.importorskip("pyspark", reason="Spark tests need the spark extra (pyspark)")
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("mixedmodels-tests")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def fit(formula: str, data, kw: dict) -> mm.Lmer:
    m = mm.Lmer(formula, data=data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m.fit(summarize=False, no_warnings=True, **kw)
    return m


def close(a, b, rtol: float) -> None:
    """Norm-wise relative agreement: max |a - b| <= rtol max |a|."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    assert a.shape == b.shape
    assert np.max(np.abs(a - b)) <= rtol * np.max(np.abs(a)), np.max(np.abs(a - b)) / np.max(np.abs(a))


def modes(m: mm.Lmer) -> np.ndarray:
    return np.concatenate([t.drop("level").to_numpy().ravel() for t in m.ranef.values()])


def fitted_values(m: mm.Lmer) -> np.ndarray:
    """The lazy frame of fitted values, collected by its own engine."""
    frame = m.fits
    if m.engine == "polars":
        return frame.collect()["fits"].to_numpy()
    if m.engine == "dask":
        return frame["fits"].compute().to_numpy()
    return frame.select("fits").toPandas()["fits"].to_numpy()


def check_same_fit(mem: mm.Lmer, ooc: mm.Lmer) -> None:
    assert ooc.engine != "memory" and ooc.nobs == mem.nobs
    assert ooc.fixed_names == mem.fixed_names and ooc.warnings == mem.warnings
    close([mem.logLike], [ooc.logLike], CRITERION)
    close([mem.objective_at(mem.theta)], [ooc.objective_at(mem.theta)], CRITERION)
    close(mem.beta, ooc.beta, AT_OPTIMUM)
    for column in ("SE", "DF", "T-stat"):
        close(mem.coefs[column], ooc.coefs[column], AT_OPTIMUM)
    close(mem.theta, ooc.theta, AT_OPTIMUM)
    close(mem.ranef_var["Var"], ooc.ranef_var["Var"], AT_OPTIMUM)
    close(modes(mem), modes(ooc), AT_OPTIMUM)


@pytest.mark.parametrize("i", range(len(MODELS)), ids=[f for f, _ in MODELS])
def test_lazy_frame_over_parquet_files(in_memory, parquet, i):
    formula, kw = MODELS[i]
    ooc = fit(formula, pl.scan_parquet(parquet), kw)
    check_same_fit(in_memory[i], ooc)
    close(in_memory[i].fits, fitted_values(ooc), AT_OPTIMUM)


@pytest.mark.parametrize("i", range(len(MODELS)), ids=[f for f, _ in MODELS])
def test_dask_local_cluster(in_memory, parquet, dask_client, data, i):
    import dask.dataframe as dd

    formula, kw = MODELS[i]
    ooc = fit(formula, dd.read_parquet(parquet), kw)
    check_same_fit(in_memory[i], ooc)
    close(in_memory[i].fits, fitted_values(ooc), AT_OPTIMUM)
    if i == 0:  # predictions on new data stay in their engine (one fit serves these checks)
        check_predictions_stay_in_dask(in_memory[i], ooc, data)
        check_group_deletion(in_memory[i], ooc, "g2")


def test_dask_group_deletion_with_terms_of_two_other_factors(data, parquet, dask_client):
    """Deleting a level with terms of two other factors needs the triple
    tables (keyed by three factors' columns), which Dask groups as any table:
    influence (one-step and exact) and group folds as in memory, 1e-8."""
    import dask.dataframe as dd

    formula = "y ~ x + (1 | g1) + (1 | g2) + (1 | school)"
    mem, ooc = fit(formula, data, {}), fit(formula, dd.read_parquet(parquet), {})
    for group in ("g1", "g2", "school"):
        for approx in (True, False):
            a = mem.influence(level=group, approx=approx, leverage=())
            b = ooc.influence(level=group, approx=approx)
            assert a.columns == b.columns
            for column in a.columns[1:]:
                close(a[column], b[column], 1e-8)
        scoring = ["rmse", "r2"]
        a = mem.cross_validate(group=group, folds=3, seed=1, scoring=scoring)
        b = ooc.cross_validate(group=group, folds=3, seed=1, scoring=scoring)
        for s in scoring:
            close(a.folds[s], b.folds[s], 1e-8)


@pytest.mark.parametrize("i", range(len(MODELS)), ids=[f for f, _ in MODELS])
def test_spark_local(in_memory, parquet, spark, i):
    formula, kw = MODELS[i]
    frame = spark.read.parquet(parquet.rsplit("/", 1)[0])
    ooc = fit(formula, frame, kw)
    check_same_fit(in_memory[i], ooc)
    if i == 0:  # Spark does not keep row order: compare the fitted values by row
        fits = ooc.fits.select("y", "x", "fits").toPandas()
        mem = in_memory[i].fit_frame.select("y", "x").with_columns(fits=in_memory[i].fits)
        joined = pl.from_pandas(fits).join(mem, on=["y", "x"], suffix="_mem")
        assert joined.height == mem.height
        close(joined["fits_mem"], joined["fits"], AT_OPTIMUM)


def check_group_deletion(mem: mm.Lmer, ooc: mm.Lmer, group: str) -> None:
    """Exact group deletion and leave-one-group-out scores from the engine's
    per-group pieces: the in-memory values, value by value, to 1e-8
    (tests/outofcore/test_group_sums.py checks every model shape on polars)."""
    a = mem.influence(level=group, approx=False, leverage=())
    b = ooc.influence(level=group, approx=False)
    assert a.columns == b.columns
    assert a[group].cast(pl.String).to_list() == b[group].cast(pl.String).to_list()
    for column in a.columns[1:]:
        np.testing.assert_allclose(b[column], a[column], rtol=1e-8, atol=1e-10 * a[column].abs().max())
    cv_mem = mem.cross_validate(group=group, scoring=["rmse", "r2"])
    cv_ooc = ooc.cross_validate(group=group, scoring=["rmse", "r2"])
    for s in ("rmse", "r2"):
        np.testing.assert_allclose(cv_ooc.folds[s], cv_mem.folds[s], rtol=1e-8)
        np.testing.assert_allclose(cv_ooc.scores[s], cv_mem.scores[s], rtol=1e-8)


def check_predictions_stay_in_dask(mem: mm.Lmer, ooc: mm.Lmer, data: pl.DataFrame) -> None:
    import dask.dataframe as dd

    new = data.head(50).with_columns(pl.col("g1").replace("s00", "unseen"))
    expected = mem.predict(new)
    lazy = ooc.predict(dd.from_pandas(new.to_pandas(), npartitions=2))
    assert type(lazy).__module__.split(".")[0] == "dask"
    got = lazy["prediction"].compute().to_numpy()
    ok = np.isfinite(expected)
    assert ok.sum() > 40
    close(expected[ok], got[ok], AT_OPTIMUM)
