"""The `mixedmodels` command and the bundled datasets."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import polars as pl
import pytest

import mixedmodels as mm
from mixedmodels.cli import main

ISSUE_DATASETS = [
    "sleepstudy",
    "dietox",
    "penicillin",
    "pastes",
    "dyestuff",
    "dyestuff2",
    "machines",
    "insteval",
    "chem97",
    "cbpp",
    "grouseticks",
]


def test_bundled_datasets_load_with_r_types():
    assert set(ISSUE_DATASETS) <= set(mm.list_datasets())
    sleep = mm.load_dataset("sleepstudy")
    assert sleep.shape == (180, 3)
    assert sleep.schema["Subject"] == pl.String and sleep.schema["Reaction"] == pl.Float64
    assert mm.load_dataset("InstEval").shape == (73421, 7)
    assert mm.load_dataset("dietox")["Feed"].null_count() > 0  # R's NA kept as null
    with pytest.raises(ValueError, match="unknown dataset"):
        mm.load_dataset("nope")


def test_fit_prints_summary(capsys):
    assert main(["fit", "Reaction ~ Days + (Days | Subject)", "--data", "sleepstudy"]) == 0
    out = capsys.readouterr().out
    assert "REML criterion at convergence: 1743.6" in out


def test_fit_json_from_csv_with_ml(tmp_path, capsys):
    path = tmp_path / "sleep.csv"
    mm.load_dataset("sleepstudy").write_csv(path)
    assert main(["fit", "Reaction ~ Days + (Days | Subject)", "--data", str(path), "--ml", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["REML"] is False
    assert report["deviance"] == pytest.approx(1751.9393444632, abs=1e-4)  # lme4's ML deviance
    assert [r["term"] for r in report["coefs"]] == ["(Intercept)", "Days"]


def test_errors_exit_with_status_2(capsys):
    assert main(["fit", "Reaction ~ Days + (1 | Subject", "--data", "sleepstudy"]) == 2
    assert "error:" in capsys.readouterr().err
    assert main(["fit", "y ~ x + (1 | g)", "--data", "no_such_file.csv"]) == 2


@pytest.mark.skipif(shutil.which("mixedmodels") is None, reason="console script not on PATH")
def test_console_script_is_installed():
    out = subprocess.run(["mixedmodels", "datasets"], capture_output=True, text=True, check=True).stdout
    assert "sleepstudy" in out


def test_module_entry_point():
    out = subprocess.run(
        [sys.executable, "-m", "mixedmodels.cli", "datasets"], capture_output=True, text=True, check=True
    ).stdout
    assert "insteval" in out
