"""The `mixedmodels` command and the bundled datasets."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

import mixedmodels as mm
from mixedmodels.cli import main

LME4 = Path(__file__).resolve().parents[1] / "fixtures" / "lme4"
SLEEP = "Reaction ~ Days + (Days | Subject)"
CBPP = "cbind(incidence, size - incidence) ~ period + (1 | herd)"

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


def test_version(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.strip() == f"mixedmodels {mm.__version__}"


def test_glmm_from_the_command_line_matches_glmer(capsys):
    reference = json.loads((LME4 / "cbpp_binomial.json").read_text())
    assert main(["fit", CBPP, "--data", "cbpp", "--family", "binomial", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["family"] == "binomial" and report["link"] == "logit"
    estimates = {row["term"]: row["Estimate"] for row in report["coefs"]}
    assert estimates == pytest.approx(reference["fixef"], rel=1e-5)
    assert report["logLik"] == pytest.approx(reference["logLik"], abs=1e-4)
    assert main(["fit", CBPP, "--data", "cbpp", "--family", "binomial", "--link", "probit", "--nagq", "5"]) == 0
    assert "binomial  ( probit )" in capsys.readouterr().out


def test_family_is_whatever_the_model_takes(capsys):
    assert main(["fit", CBPP, "--data", "cbpp", "--family", "poisson"]) == 2  # cbind needs binomial
    assert main(["fit", "incidence ~ period + (1 | herd)", "--data", "cbpp", "--family", "poisson"]) == 0
    capsys.readouterr()
    assert main(["fit", "incidence ~ period + (1 | herd)", "--data", "cbpp", "--family", "negative_binomial"]) == 0
    assert "Negative Binomial(" in capsys.readouterr().out
    assert main(["fit", CBPP, "--data", "cbpp", "--family", "tweedie"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: unknown family 'tweedie'") and err.count("\n") == 1


def test_linear_and_generalized_options_are_kept_apart(capsys):
    assert main(["fit", SLEEP, "--data", "sleepstudy", "--link", "log"]) == 2
    assert "--link is for generalized models" in capsys.readouterr().err
    assert main(["fit", CBPP, "--data", "cbpp", "--family", "binomial", "--ddf", "lme4"]) == 2
    assert "--ddf is for linear mixed models" in capsys.readouterr().err
    assert main(["fit", CBPP, "--data", "cbpp", "--family", "binomial", "--anova"]) == 2
    assert "F tables are for linear mixed models" in capsys.readouterr().err


def test_ddf_anova_ranef_as_json(capsys):
    data = mm.load_dataset("sleepstudy")
    args = ["fit", SLEEP, "--data", "sleepstudy", "--ddf", "Kenward-Roger", "--anova", "--ranef", "--format", "json"]
    assert main(args) == 0
    report = json.loads(capsys.readouterr().out)
    model = mm.Lmer(SLEEP, data=data)
    model.fit(summarize=False, ddf="Kenward-Roger")
    assert [r["DF"] for r in report["coefs"]] == pytest.approx(model.coefs["DF"].to_list(), rel=1e-9)
    assert [r["term"] for r in report["anova"]] == ["Days"]
    assert report["anova"][0]["DenomDF"] == pytest.approx(model.anova(ddf="Kenward-Roger")["DenomDF"][0], rel=1e-9)
    assert len(report["ranef"]["Subject"]) == 18 and set(report["ranef"]["Subject"][0]) == {
        "level",
        "(Intercept)",
        "Days",
    }


def test_weights_column(tmp_path, capsys):
    reference = json.loads((LME4 / "sleepstudy_weights.json").read_text())
    path = tmp_path / "sleep.parquet"
    data = mm.load_dataset("sleepstudy")
    data.with_columns(w=1 + pl.col("Days") % 3).write_parquet(path)  # the reference's r_prep: w <- 1 + Days %% 3
    assert main(["fit", reference["formula"], "--data", str(path), "--weights", "w", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert {r["term"]: r["Estimate"] for r in report["coefs"]} == pytest.approx(reference["fixef"], rel=1e-5)


def test_csv_output_and_arrow_ipc_input(tmp_path, capsys):
    path = tmp_path / "sleep.arrow"
    mm.load_dataset("sleepstudy").write_ipc(path)
    assert main(["fit", SLEEP, "--data", str(path), "--anova", "--ranef", "--format", "csv"]) == 0
    out = capsys.readouterr().out
    sections = out.split("\n\n")
    assert [s.splitlines()[0] for s in sections] == ["# coefs", "# anova", "# ranef Subject"]
    coefs = pl.read_csv(io.StringIO(sections[0]), comment_prefix="#")
    assert coefs["term"].to_list() == ["(Intercept)", "Days"]
    assert coefs["Estimate"][0] == pytest.approx(251.405104848485, rel=1e-6)  # lme4's fixef
    assert pl.read_csv(io.StringIO(sections[2]), comment_prefix="#").height == 18


def test_text_output_shows_whole_tables(capsys):
    assert main(["fit", SLEEP, "--data", "sleepstudy", "--ranef", "--anova"]) == 0
    out = capsys.readouterr().out
    assert "Type III Analysis of Variance Table" in out and "Conditional modes: Subject" in out
    assert "…" not in out.split("Conditional modes: Subject")[1]  # all 18 rows, no ellipsis
