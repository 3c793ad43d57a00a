"""Agreement between tools and the Markdown report of a benchmark run."""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Iterable, Mapping
from typing import Any

REFERENCE_TOOL = "ours"


# ---------------------------------------------------------------- agreement


def relative_difference(value: float, reference: float) -> float:
    """|value - reference| / |reference| (absolute difference if reference is 0)."""
    scale = abs(reference)
    return abs(value - reference) / scale if scale > 0 else abs(value - reference)


def max_relative_difference(values: Iterable[float], references: Iterable[float]) -> float:
    return max((relative_difference(v, r) for v, r in zip(values, references, strict=True)), default=0.0)


def _normalized(named: Mapping[str, float]) -> dict[str, float]:
    """Term names without punctuation: mixedlm writes ``service.1``, R ``service1``."""
    return {re.sub(r"[^0-9A-Za-z]", "", name): value for name, value in named.items()}


def _compare_named(
    name: str, result: Mapping[str, Any], reference: Mapping[str, Any]
) -> tuple[float | None, str | None]:
    mine, theirs = result.get(name), reference.get(name)
    if not mine or not theirs:
        return None, None
    mine, theirs = _normalized(mine), _normalized(theirs)
    shared = [k for k in theirs if k in mine]
    difference = max_relative_difference([mine[k] for k in shared], [theirs[k] for k in shared]) if shared else None
    if len(shared) == len(mine) == len(theirs):
        return difference, None
    only_mine, only_theirs = sorted(set(mine) - set(theirs)), sorted(set(theirs) - set(mine))
    return difference, (
        f"{name}: {len(shared)} terms named alike (compared); {len(only_mine)} named otherwise here"
        f" (e.g. {only_mine[:3]}), {len(only_theirs)} in the reference (e.g. {only_theirs[:3]})"
    )


LOGLIK_TOLERANCE = 1e-4  # GLMMs: a larger |logLik difference| between tools is flagged


def glmer_agreement(result: Mapping[str, Any], reference: Mapping[str, Any]) -> dict[str, Any]:
    """For GLMMs: the log-likelihood difference (absolute, signed: > 0 when
    ``result`` stopped at a lower, worse, log-likelihood than ``reference``) and
    the largest relative differences of theta, the fixed effects and their
    standard errors."""
    out: dict[str, Any] = {
        "loglik_difference": reference["loglik"] - result["loglik"],
        "loglik_flag": abs(reference["loglik"] - result["loglik"]) > LOGLIK_TOLERANCE,
        "theta": None,
        "notes": [],
    }
    if len(result["theta"]) == len(reference["theta"]):
        out["theta"] = max_relative_difference(result["theta"], reference["theta"])
    else:
        out["notes"].append("theta lengths differ")
    for name in ("fixef", "se"):
        out[name], note = _compare_named(name, result, reference)
        if note:
            out["notes"].append(note)
    return out


def agreement(result: Mapping[str, Any], reference: Mapping[str, Any]) -> dict[str, Any]:
    """Largest relative differences of ``result`` from ``reference`` (both worker results).

    The REML criterion's difference is signed: positive when ``result`` stopped
    at a higher (worse) criterion than ``reference``.

    theta is compared position by position: every tool orders the random-effect
    terms as lme4 does (by decreasing number of levels).
    """
    if "loglik" in reference:
        return glmer_agreement(result, reference)
    if "regression" in reference:
        return regression_agreement(result, reference)
    crit_gap = result["reml_crit"] - reference["reml_crit"]
    out: dict[str, Any] = {
        # signed: > 0 when the tool's optimum is worse (higher criterion) than the reference's
        "reml_crit": crit_gap / abs(reference["reml_crit"]),
        "reml_crit_difference": crit_gap,
        "theta": None,
        "notes": [],
    }
    if len(result["theta"]) == len(reference["theta"]):
        out["theta"] = max_relative_difference(result["theta"], reference["theta"])
    else:
        out["notes"].append("theta lengths differ")
    for name in ("fixef", "df"):
        out[name], note = _compare_named(name, result, reference)
        if note:
            out["notes"].append(note)
    return out


def _percentile_se_factor(p: float) -> float:
    """s.e. of the p-quantile of n normal draws, times sqrt(n), in SD units."""
    z = statistics.NormalDist().inv_cdf(p)
    return math.sqrt(p * (1 - p)) / statistics.NormalDist().pdf(z)


def bootstrap_agreement(result: Mapping[str, Any], reference: Mapping[str, Any]) -> dict[str, Any]:
    """Differences of ``result``'s bootstrap means and 2.5% / 97.5% percentiles
    from ``reference``'s, in units of the reference's bootstrap SD, and the ratio
    of the SDs, parameter by parameter (theta by position, fixed effects by name).

    The two are Monte-Carlo estimates from different random streams, so they
    differ even when the tools do the same computation: each row's ``se`` is the
    standard error of each difference for two independent runs of the same
    computation, measured from the reference's ``seed_spread`` if it has one
    (more seeds of the reference), else from a normal approximation (which
    understates the spread of a percentile next to a point mass, e.g. the 2.5%
    percentile of a diagonal theta with a few percent of singular refits);
    ``z`` is the difference over its ``se``.
    """
    mine, theirs = result["bootstrap"], reference["bootstrap"]
    index = {re.sub(r"[^0-9A-Za-z]", "", name): i for i, name in enumerate(mine["parameters"])}
    wanted = [re.sub(r"[^0-9A-Za-z]", "", name) for name in theirs["parameters"]]
    if sorted(index) != sorted(wanted):
        return {"rows": [], "notes": [f"bootstrap parameters differ: {mine['parameters']} vs {theirs['parameters']}"]}
    rows = []
    for j, key in enumerate(wanted):
        i, sd = index[key], theirs["sd"][j]
        rows.append(
            {
                "parameter": theirs["parameters"][j],
                "mean": (mine["mean"][i] - theirs["mean"][j]) / sd,
                "sd_ratio": mine["sd"][i] / sd,
                "q025": (mine["q025"][i] - theirs["q025"][j]) / sd,
                "q975": (mine["q975"][i] - theirs["q975"][j]) / sd,
            }
        )
    spread = theirs.get("seed_spread")
    if spread:  # measured: sqrt(2) x the reference's seed-to-seed SD, as if both tools had it
        for j, row in enumerate(rows):
            row["se"] = {key: math.sqrt(2) * spread[key][j] for key in STATISTICS}
        method = f"measured over {spread['seeds'][1] - spread['seeds'][0] + 1} more seeds of {REFERENCE_TOOL}"
    else:  # normal approximation
        scale = math.sqrt(1 / mine["n_ok"] + 1 / theirs["n_ok"])
        se = {"mean": scale, "sd_ratio": scale / math.sqrt(2)}
        se.update({key: scale * _percentile_se_factor(p) for key, p in (("q025", 0.025), ("q975", 0.975))})
        for row in rows:
            row["se"] = dict(se)
        method = "normal approximation"
    for row in rows:
        row["z"] = {key: (row[key] - (1.0 if key == "sd_ratio" else 0.0)) / row["se"][key] for key in STATISTICS}
    worst = max(abs(z) for row in rows for z in row["z"].values())
    return {"rows": rows, "se_method": method, "max_abs_z": worst, "notes": []}


STATISTICS = ("mean", "sd_ratio", "q025", "q975")


def add_agreement(tools: dict[str, dict[str, Any]]) -> None:
    """Store, in each successful tool's entry, its agreement with the reference tool."""
    reference = tools.get(REFERENCE_TOOL, {})
    if reference.get("status") != "ok":
        return
    for name, entry in tools.items():
        if name != REFERENCE_TOOL and entry.get("status") == "ok":
            entry["agreement_vs_" + REFERENCE_TOOL] = agreement(entry, reference)
            if "bootstrap" in entry and "bootstrap" in reference:
                entry["bootstrap_agreement_vs_" + REFERENCE_TOOL] = bootstrap_agreement(entry, reference)


# ----------------------------------------------------------------- markdown


def median_time(entry: Mapping[str, Any]) -> float | None:
    times = entry.get("times_s") or []
    return statistics.median(times) if times else None


def _sig(x: float | None, fmt: str = ".3g") -> str:
    return "–" if x is None else format(x, fmt)


def _evaluations(entry: Mapping[str, Any]) -> str:
    evals = entry.get("evaluations") or {}
    objective, derivative = evals.get("objective"), evals.get("derivative")
    optimizer = f" ({entry['optimizer']})" if entry.get("optimizer") else ""
    if derivative:
        return f"{objective}{optimizer} + {derivative} for df = {objective + derivative}"
    if derivative is None and entry.get("df"):
        return f"{objective}{optimizer} + df evaluations not counted"
    return f"{objective}{optimizer}"


def _agreement_cell(entry: Mapping[str, Any]) -> str:
    agree = entry.get("agreement_vs_" + REFERENCE_TOOL)
    if agree is None:
        return "reference" if entry.get("tool") == REFERENCE_TOOL else "–"
    parts = [
        f"{label} {agree[key]:+.1e}" if key == "reml_crit" else f"{label} {agree[key]:.1e}"
        for label, key in (("crit", "reml_crit"), ("θ", "theta"), ("β", "fixef"), ("df", "df"))
        if agree.get(key) is not None
    ]
    return ", ".join(parts + agree["notes"])


def _tool_row(name: str, entry: Mapping[str, Any], reference_time: float | None) -> str:
    if entry.get("status") != "ok":
        reason = entry.get("reason") or entry.get("error", "")
        return f"| {name} | {entry.get('status')}: {reason} | | | | | |"
    time_s = median_time(entry)
    ratio = time_s / reference_time if time_s and reference_time else None
    notes = "" if entry.get("converged", True) else " (not converged)"
    cells = [
        name + notes,
        f"{time_s:.3f} (n={len(entry['times_s'])})",
        _sig(ratio, ".2f"),
        _evaluations(entry),
        _sig(entry.get("peak_rss_mb"), ".0f"),
        f"{entry['import_s']:.2f} + {entry['load_s']:.2f}",
        _agreement_cell(entry),
    ]
    return "| " + " | ".join(cells) + " |"


TABLE_HEADER = (
    "| tool | fit time, s (median) | time / ours | objective evaluations | peak RSS, MB "
    "| import + load, s | agreement vs ours (max rel. diff) |\n"
    "|---|---:|---:|---:|---:|---:|---|"
)


def _speedup_lines(case: Mapping[str, Any]) -> list[str]:
    """One bold line per tool with a target: its median time over ours."""
    tools = case["tools"]
    reference_time = median_time(tools.get(REFERENCE_TOOL, {}))
    lines = []
    for tool, target in (case.get("speedup_target") or {}).items():
        time_s = median_time(tools.get(tool, {})) if tools.get(tool, {}).get("status") == "ok" else None
        if time_s is None or not reference_time:
            lines.append(f"- **{tool} / ours: not measured** (project target: {target:g}x)")
            continue
        ratio = time_s / reference_time
        verdict = "met" if ratio >= target else "not met"
        lines.append(
            f"- **{tool} / ours = {ratio:.1f}x** ({time_s:.3f} s / {reference_time:.3f} s, medians); "
            f"project target {target:g}x: **{verdict}**"
        )
    return lines


def _load_line(tools: Mapping[str, Mapping[str, Any]]) -> str:
    loads = [f"{name} {e['loadavg'][0]} → {e['loadavg'][1]}" for name, e in tools.items() if e.get("loadavg")]
    return "- load average (1 min) before → after each worker: " + "; ".join(loads) if loads else ""


def case_section(case: Mapping[str, Any]) -> str:
    if case.get("kind") == "bootstrap":
        return bootstrap_section(case)
    if case.get("kind") == "diagnostics":
        return diagnostics_section(case)
    if case.get("kind") == "regression":
        return regression_section(case)
    if case.get("kind") == "glmer":
        return glmer_section(case)
    tools = case["tools"]
    reference_time = median_time(tools.get(REFERENCE_TOOL, {}))
    rows = [_tool_row(name, entry, reference_time) for name, entry in tools.items()]
    notes = [f"- {name}: {note}" for name, entry in tools.items() for note in entry.get("notes") or []]
    notes += [line for line in [*_speedup_lines(case), _load_line(tools)] if line]
    lines = [f"## {case['name']}", "", case["description"], "", f"`{case['formula']}`", ""]
    return "\n".join([*lines, TABLE_HEADER, *rows, *(["", *notes] if notes else [])])


# -------------------------------------------------------------------- glmer

GLMER_HEADER = (
    "| tool | fit time, s (median) | time / ours | CPU time, s (median) "
    "| evaluations: stage 1 + stage 2 (+ Hessian) | ms per evaluation | peak RSS, MB | import + load, s "
    "| agreement vs ours: ΔlogLik (abs.), θ, β, SE (max rel. diff) |\n"
    "|---|---:|---:|---:|---:|---:|---:|---:|---|"
)


def _glmer_evaluations(entry: Mapping[str, Any]) -> tuple[str, int | None]:
    """The evaluations cell, and the total (objective + Hessian) or None."""
    evals = entry.get("evaluations") or {}
    objective, stage1, stage2 = evals.get("objective"), evals.get("stage1"), evals.get("stage2")
    derivative = evals.get("derivative")
    if objective is None:
        return "–", None
    text = f"{stage1} + {stage2}" if stage1 is not None and stage2 is not None else f"{objective}"
    total = objective + (derivative or 0)
    if derivative:
        text += f" (+ {derivative}) = {total}"
    elif stage1 is not None:
        text += f" = {objective}"
    optimizer = f"; {entry['optimizer']}" if entry.get("optimizer") else ""
    return text + optimizer, total


def _glmer_agreement_cell(entry: Mapping[str, Any]) -> str:
    agree = entry.get("agreement_vs_" + REFERENCE_TOOL)
    if agree is None:
        return "reference" if entry.get("tool") == REFERENCE_TOOL else "–"
    flag = f" **(!) over {LOGLIK_TOLERANCE:g}**" if agree["loglik_flag"] else ""
    parts = [f"ΔlogLik {agree['loglik_difference']:+.1e}{flag}"]
    parts += [
        f"{label} {agree[key]:.1e}"
        for label, key in (("θ", "theta"), ("β", "fixef"), ("SE", "se"))
        if agree.get(key) is not None
    ]
    return ", ".join(parts + agree["notes"])


def _glmer_row(name: str, entry: Mapping[str, Any], reference_time: float | None) -> str:
    if entry.get("status") != "ok":
        reason = entry.get("reason") or entry.get("error", "")
        return f"| {name} | {entry.get('status')}: {reason} |" + " |" * 8
    time_s = median_time(entry)
    ratio = time_s / reference_time if time_s and reference_time else None
    evaluations, total = _glmer_evaluations(entry)
    cpu = entry.get("cpu_times_s")
    cells = [
        name + ("" if entry.get("converged", True) else " (not converged)"),
        f"{time_s:.3f} (n={len(entry['times_s'])})",
        _sig(ratio, ".2f"),
        f"{statistics.median(cpu):.3f}" if cpu else "–",
        evaluations,
        f"{1000 * time_s / total:.3g}" if total else "–",
        _sig(entry.get("peak_rss_mb"), ".0f"),
        f"{entry['import_s']:.2f} + {entry['load_s']:.2f}",
        _glmer_agreement_cell(entry),
    ]
    return "| " + " | ".join(cells) + " |"


def glmer_section(case: Mapping[str, Any]) -> str:
    tools = case["tools"]
    reference_time = median_time(tools.get(REFERENCE_TOOL, {}))
    rows = [_glmer_row(name, entry, reference_time) for name, entry in tools.items()]
    notes = [*_speedup_lines(case)]
    notes += [f"- {name}: {note}" for name, entry in tools.items() for note in entry.get("notes") or []]
    for name, entry in tools.items():
        agree = entry.get("agreement_vs_" + REFERENCE_TOOL) or {}
        if agree.get("loglik_flag"):
            side = "lower" if agree["loglik_difference"] > 0 else "higher"
            notes.append(
                f"- **{name}: logLik {abs(agree['loglik_difference']):.2e} {side} than ours**"
                f" (more than {LOGLIK_TOLERANCE:g})"
            )
        if entry.get("se_time_s") is not None:
            notes.append(f"- {name}: of its fit time, {entry['se_time_s']:.3f} s computing vcov() (last fit)")
    notes += [
        "- Evaluations: stage 1 optimizes theta with beta profiled by PIRLS (nAGQ = 0), stage 2 theta and "
        "beta by the Laplace approximation; each evaluation runs PIRLS to convergence (several weighted "
        "factorizations). Hessian: ours and lme4 evaluate the deviance by finite differences for the "
        "standard errors (lme4: deriv12's 2 p^2, computed not counted); mixedlm's vcov() inverts the "
        "information matrix at the mode (no extra evaluations). ms per evaluation = fit time / all evaluations.",
        f"- Agreement: ΔlogLik = logLik(ours) − logLik(tool), > 0 when the tool stopped at a lower (worse) "
        f"log-likelihood; flagged (!) over {LOGLIK_TOLERANCE:g}.",
    ]
    load = _load_line(tools)
    lines = [f"## {case['name']}", "", case["description"], "", f"`{case['formula']}`", ""]
    return "\n".join([*lines, GLMER_HEADER, *rows, "", *notes, *([load] if load else [])])


# ---------------------------------------------------------------- bootstrap

BOOTSTRAP_HEADER = (
    "| tool | time for {nsim:,} refits, s (median) | time / ours | ms per refit | CPU time, s (median) "
    "| evaluations per refit | failed refits | singular refits | peak RSS, MB | import + load + base fit, s "
    "| base fit vs ours (max rel. diff) |\n"
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
)


def _refit_evaluations(boot: Mapping[str, Any]) -> str:
    evals = boot.get("evaluations_per_refit")
    if not evals:
        return "not exposed"
    spread = f"{evals['min']:g}–{evals['max']:g}; {evals['optimizer']}"
    return f"mean {evals['mean']:.1f}, median {evals['median']:g} ({spread})"


def _bootstrap_row(name: str, entry: Mapping[str, Any], reference_time: float | None) -> str:
    if entry.get("status") != "ok":
        reason = entry.get("reason") or entry.get("error", "")
        return f"| {name} | {entry.get('status')}: {reason} |" + " |" * 10
    boot = entry["bootstrap"]
    time_s = median_time(entry)
    ratio = time_s / reference_time if time_s and reference_time else None
    cells = [
        name,
        f"{time_s:.3f} (n={len(entry['times_s'])})",
        _sig(ratio, ".1f"),
        f"{1000 * time_s / boot['nsim']:.3g}",
        f"{statistics.median(boot['cpu_times_s']):.3f}",
        _refit_evaluations(boot),
        f"{boot['n_failed']}"
        + (
            f" (+{boot['nsim'] - boot['n_failed'] - boot['n_ok']} partly NaN)"
            if boot["nsim"] - boot["n_failed"] != boot["n_ok"]
            else ""
        ),
        _sig(boot.get("n_singular"), "d"),
        _sig(entry.get("peak_rss_mb"), ".0f"),
        f"{entry['import_s']:.2f} + {entry['load_s']:.2f} + {entry['base_fit_s']:.2f}",
        _agreement_cell(entry),
    ]
    return "| " + " | ".join(cells) + " |"


def _distribution_table(tools: Mapping[str, Mapping[str, Any]]) -> list[str]:
    reference = tools.get(REFERENCE_TOOL, {})
    if reference.get("status") != "ok":
        return []
    ref = reference["bootstrap"]
    others = [
        (n, e["bootstrap_agreement_vs_" + REFERENCE_TOOL])
        for n, e in tools.items()
        if e.get("bootstrap_agreement_vs_" + REFERENCE_TOOL)
    ]
    labels = dict(zip(ref["parameters"], ref.get("theta_labels") or [], strict=False))
    header = ["parameter", "ours mean", "ours SD", "ours 2.5%", "ours 97.5%"]
    for name, _ in others:
        header += [f"{name} Δmean", f"{name} SD ratio", f"{name} Δ2.5%", f"{name} Δ97.5%"]
    lines = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
    for j, param in enumerate(ref["parameters"]):
        label = f"{param} ({labels[param]})" if param in labels else param
        cells = [label, *(f"{ref[key][j]:.4g}" for key in ("mean", "sd", "q025", "q975"))]
        for _, agree in others:
            row = next((r for r in agree["rows"] if r["parameter"] == param), None)
            for key in STATISTICS:
                if row is None:
                    cells.append("–")
                    continue
                cells.append(f"{row[key]:+.3f}" if key != "sd_ratio" else f"{row[key]:.3f}")
                cells[-1] += f" ±{row['se'][key]:.2f}" + (" (!)" if abs(row["z"][key]) > 3 else "")
        lines.append("| " + " | ".join(cells) + " |")
    methods = sorted({a["se_method"] for _, a in others})
    worst = "; ".join(f"{name} {a['max_abs_z']:.1f}" for name, a in others)
    notes = [n for _, a in others for n in a["notes"]]
    spread = ref.get("seed_spread")
    singular = (
        f" Singular refits of ours over those seeds: {spread['n_singular']['min']}–{spread['n_singular']['max']}"
        f" (mean {spread['n_singular']['mean']:.1f})."
        if spread
        else ""
    )
    return [
        "",
        "Bootstrap distributions of theta and the fixed effects (replicates without NaN): ours, and each "
        "tool's differences from ours in units of ours' bootstrap SD (SD ratio: tool's SD / ours). "
        "The tools draw from different random streams, so the differences are Monte-Carlo noise if they do "
        "the same computation: ± is the standard error of a difference between two runs "
        f"({', '.join(methods)}), (!) marks a difference over 3 s.e.; largest |difference| / s.e.: {worst}."
        + singular
        + (" " + " ".join(notes) if notes else ""),
        "",
        *lines,
    ]


def bootstrap_section(case: Mapping[str, Any]) -> str:
    tools = case["tools"]
    nsim = (case.get("params") or {}).get("nsim", 0)
    reference_time = median_time(tools.get(REFERENCE_TOOL, {}))
    rows = [_bootstrap_row(name, entry, reference_time) for name, entry in tools.items()]
    notes = [*_speedup_lines(case)]
    tol = next((e["bootstrap"]["singular_tol"] for e in tools.values() if e.get("bootstrap")), 1e-4)
    for name, entry in tools.items():
        boot = entry.get("bootstrap") or {}
        notes += [f"- {name}: {note}" for note in entry.get("notes") or []]
        notes += [f"- {name} refits: {note}" for note in boot.get("notes") or []]
        if boot.get("identical_across_repeats") is False:
            notes.append(f"- {name}: the repeats with the same seed gave different replicates")
    notes += [
        "- Parallelism, each tool's default: ours refits on all available cores (rayon); lme4's bootMer "
        '(parallel = "no") and mixedlm\'s bootMer (n_jobs = 1) refit serially. CPU time / time = cores used.',
        f"- Singular refits: a diagonal element of theta below {tol:g} (lme4's isSingular()); "
        "ours' theta is derived from its sd/cor/sigma replicates.",
    ]
    load = _load_line(tools)
    lines = [f"## {case['name']}", "", case["description"], "", f"`{case['formula']}`", ""]
    return "\n".join(
        [
            *lines,
            BOOTSTRAP_HEADER.format(nsim=nsim),
            *rows,
            "",
            *notes,
            *([load] if load else []),
            *_distribution_table(tools),
        ]
    )


# -------------------------------------------------------------- diagnostics

DIAGNOSTICS_HEADER = (
    "| tool | time, s (median) | time / ours | CPU time, s (median) | base fit, s | time / base fit "
    "| peak RSS, MB | import + load, s | agreement vs ours |\n"
    "|---|---:|---:|---:|---:|---:|---:|---:|---|"
)

# The diagnostics cases' targets beyond speed-ups: ours' time over its own fit, peak memory.
OBS_INFLUENCE_FIT_RATIO = 5.0
OBS_INFLUENCE_PEAK_MB = 2048.0


def diagnostics_agreement(case: Mapping[str, Any], entry: Mapping[str, Any]) -> str:
    """A tool's result against ours: lme4's Cook's distances (which are
    HLMdiag's times (G - p) / G, G groups) or the pooled RMSE."""
    ours = (case["tools"].get(REFERENCE_TOOL) or {}).get("diagnostics")
    found = entry.get("diagnostics")
    if entry.get("tool") == REFERENCE_TOOL or not ours or not found:
        return "reference" if entry.get("tool") == REFERENCE_TOOL else "–"
    task = (case.get("params") or {}).get("task")
    if task == "influence_groups":
        p = len(case["tools"][REFERENCE_TOOL].get("fixef") or {})
        ref = dict(zip(ours["levels"], ours["cooksd"], strict=True))
        g = len(ref)
        diffs = [
            relative_difference(v, ref[str(level)] * (g - p) / g)
            for level, v in zip(found["levels"], found["cooksd_lme4"], strict=True)
        ]
        return f"Cook's D (lme4's scaling) {max(diffs):.1e}"
    if task == "logo_cv":
        return f"RMSE {relative_difference(found['rmse'], ours['rmse']):.1e}"
    if task == "all_fit":
        return _all_fit_agreement(ours, found)
    return "–"


def _all_fit_agreement(ours: Mapping[str, Any], found: Mapping[str, Any]) -> str:
    """The lowest objective of each tool's refits, and how many of its
    optimizers converged (lme4 runs more optimizers than ours)."""

    def best(objectives: Iterable[float | None]) -> float:
        return min(v for v in objectives if v is not None and math.isfinite(v))

    difference = relative_difference(best(found["objective"]), best(ours["objective"]))
    counts = f"{sum(found['converged'])}/{len(found['converged'])} converged"
    return f"lowest objective {difference:.1e}; {counts}"


def _diagnostics_row(case: Mapping[str, Any], name: str, entry: Mapping[str, Any], reference_time: float | None) -> str:
    if entry.get("status") != "ok":
        reason = entry.get("reason") or entry.get("error", "")
        return f"| {name} | {entry.get('status')}: {reason} | | | | | | | |"
    time_s = median_time(entry)
    ratio = time_s / reference_time if time_s and reference_time else None
    cpu = statistics.median(entry["cpu_times_s"]) if entry.get("cpu_times_s") else None
    base = entry.get("base_fit_s")
    cells = [
        name,
        f"{time_s:.3f} (n={len(entry['times_s'])})",
        _sig(ratio, ".2f"),
        _sig(cpu, ".3f"),
        _sig(base, ".3f"),
        _sig(time_s / base if time_s and base else None, ".2f"),
        _sig(entry.get("peak_rss_mb"), ".0f"),
        f"{entry['import_s']:.2f} + {entry['load_s']:.2f}",
        diagnostics_agreement(case, entry),
    ]
    return "| " + " | ".join(cells) + " |"


def _observation_influence_lines(case: Mapping[str, Any]) -> list[str]:
    entry = case["tools"].get(REFERENCE_TOOL) or {}
    if (case.get("params") or {}).get("task") != "influence_obs" or entry.get("status") != "ok":
        return []
    time_s, base, peak = median_time(entry), entry.get("base_fit_s"), entry.get("peak_rss_mb")
    ratio = time_s / base if time_s and base else None
    met_time = "met" if ratio is not None and ratio <= OBS_INFLUENCE_FIT_RATIO else "not met"
    met_peak = "met" if peak is not None and peak < OBS_INFLUENCE_PEAK_MB else "not met"
    return [
        f"- **ours: influence / its own fit = {_sig(ratio, '.2f')}x** ({time_s:.3f} s / {_sig(base, '.3f')} s, "
        f"same process); project target at most {OBS_INFLUENCE_FIT_RATIO:g}x: **{met_time}**",
        f"- **peak RSS {_sig(peak, '.0f')} MB**; project target under {OBS_INFLUENCE_PEAK_MB:.0f} MB: **{met_peak}**",
    ]


def diagnostics_section(case: Mapping[str, Any]) -> str:
    tools = case["tools"]
    reference_time = median_time(tools.get(REFERENCE_TOOL, {}))
    rows = [_diagnostics_row(case, name, entry, reference_time) for name, entry in tools.items()]
    notes = [f"- {name}: {note}" for name, entry in tools.items() for note in entry.get("notes") or []]
    notes += [*_speedup_lines(case), *_observation_influence_lines(case)]
    notes.append(
        "- Parallelism, each tool's default: ours refits on all available cores (rayon); lme4's influence() "
        "and the R loop refit serially. CPU time / time = cores used. The base fit (not in the timed task) is "
        "a plain REML fit."
    )
    load = _load_line(tools)
    lines = [f"## {case['name']}", "", case["description"], "", f"`{case['formula']}`", ""]
    return "\n".join([*lines, DIAGNOSTICS_HEADER, *rows, "", *notes, *([load] if load else [])])


# --------------------------------------------------------------- regression

REGRESSION_HEADER = (
    "| tool | time, s (median) | time / ours | CPU time, s (median) | peak RSS, MB | import + load, s "
    "| agreement vs ours |\n|---|---:|---:|---:|---:|---:|---|"
)


def regression_agreement(result: Mapping[str, Any], reference: Mapping[str, Any]) -> dict[str, Any]:
    """The largest relative differences of the estimates, SEs and t statistics
    (matched by term), and the largest absolute difference of the p-values
    (permutation p-values differ by Monte-Carlo noise: different random streams)."""
    mine, theirs = result["regression"], reference["regression"]
    index = {t: i for i, t in enumerate(theirs["terms"])}
    shared = [(i, index[t]) for i, t in enumerate(mine["terms"]) if t in index]
    out: dict[str, Any] = {"notes": []}
    for name in ("estimate", "se", "t"):
        out[name] = max_relative_difference([mine[name][i] for i, _ in shared], [theirs[name][j] for _, j in shared])
    out["p_abs"] = max(abs(mine["p"][i] - theirs["p"][j]) for i, j in shared) if shared else None
    if len(shared) != len(mine["terms"]):
        out["notes"].append(f"terms named otherwise: {sorted(set(mine['terms']) - set(index))}")
    return out


def _regression_row(name: str, entry: Mapping[str, Any], reference_time: float | None) -> str:
    if entry.get("status") != "ok":
        reason = entry.get("reason") or entry.get("error", "")
        return f"| {name} | {entry.get('status')}: {reason} | | | | | |"
    time_s = median_time(entry)
    ratio = time_s / reference_time if time_s and reference_time else None
    cpu = statistics.median(entry["cpu_times_s"]) if entry.get("cpu_times_s") else None
    agree = entry.get("agreement_vs_" + REFERENCE_TOOL)
    if agree:
        text = ", ".join(f"{k} {agree[k]:.1e}" for k in ("estimate", "se", "t") if agree.get(k) is not None)
        text += f"; p (abs) {agree['p_abs']:.1e}" if agree.get("p_abs") is not None else ""
    else:
        text = "reference" if name == REFERENCE_TOOL else "–"
    cells = [
        name,
        f"{time_s:.3f} (n={len(entry['times_s'])})",
        _sig(ratio, ".2f"),
        _sig(cpu, ".3f"),
        _sig(entry.get("peak_rss_mb"), ".0f"),
        f"{entry['import_s']:.2f} + {entry['load_s']:.2f}",
        text,
    ]
    return "| " + " | ".join(cells) + " |"


def regression_section(case: Mapping[str, Any]) -> str:
    tools = case["tools"]
    reference_time = median_time(tools.get(REFERENCE_TOOL, {}))
    rows = [_regression_row(name, entry, reference_time) for name, entry in tools.items()]
    notes = [f"- {name}: {note}" for name, entry in tools.items() for note in entry.get("notes") or []]
    notes += _speedup_lines(case)
    notes.append(
        "- Parallelism, each tool's default: ours fits the groups / refits the permutations on all available "
        "cores (rayon); R's loops are serial. CPU time / time = cores used. The timed work includes building "
        "the model from the loaded data. The lme4 column is R (lmList / lm)."
    )
    load = _load_line(tools)
    lines = [f"## {case['name']}", "", case["description"], "", f"`{case['formula']}`", ""]
    return "\n".join([*lines, REGRESSION_HEADER, *rows, "", *notes, *([load] if load else [])])


def machine_section(run: Mapping[str, Any]) -> str:
    machine, versions = run["machine"], run["versions"]
    version_text = ", ".join(f"{k} {v}" for k, v in versions.items())
    load = machine.get("loadavg_start"), machine.get("loadavg_end")
    return "\n".join(
        [
            f"- date: {run['generated']}; command: `{run['command']}`",
            f"- CPU: {machine['cpu_model']} ({machine['cpu_count']} cores available); "
            f"RAM {machine['memory_total_gb']} GB; {machine['platform']}",
            f"- load average (1 min) at start / end: {load[0]} / {load[1]}",
            "- BLAS threads: "
            + (
                "the libraries' defaults"
                if run.get("blas_threads") is None
                else f"{run['blas_threads']} (OPENBLAS/OMP/MKL_NUM_THREADS set for every worker)"
            ),
            f"- versions: {version_text}",
            f"- R BLAS: {machine.get('r_blas', '–')}",
        ]
    )


def markdown(run: Mapping[str, Any]) -> str:
    intro = (
        "# Benchmark results\n\n"
        "Fit time excludes imports and data loading; each tool runs in its own process "
        "and the repeats run in that process. Peak RSS is the whole worker process "
        "(VmHWM), data and interpreter included. Evaluations: ours = optimizer + extra "
        "factorizations for the df; lme4 and mixedlm report optimizer evaluations only "
        "(mixedlm's L-BFGS-B evaluations each compute the deviance and its gradient). "
        "Agreement: crit is signed, (tool − ours) / |ours|, > 0 when the tool stopped at a "
        "higher (worse) REML criterion; θ, β and df are the largest relative differences "
        "(GLMM cases compare the log-likelihood instead: see the notes under their table). "
        "Timings are indicative when the load average is above 0."
    )
    sections = [case_section(case) for case in run["cases"]]
    return "\n\n".join([intro, machine_section(run), *sections]) + "\n"
