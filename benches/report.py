"""Agreement between tools and the Markdown report of a benchmark run."""

from __future__ import annotations

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
    if mine.keys() != theirs.keys():
        return None, f"{name} terms differ: {sorted(mine)} vs {sorted(theirs)}"
    return max_relative_difference([mine[k] for k in theirs], theirs.values()), None


def agreement(result: Mapping[str, Any], reference: Mapping[str, Any]) -> dict[str, Any]:
    """Largest relative differences of ``result`` from ``reference`` (both worker results).

    The REML criterion's difference is signed: positive when ``result`` stopped
    at a higher (worse) criterion than ``reference``.

    theta is compared position by position: every tool orders the random-effect
    terms as lme4 does (by decreasing number of levels).
    """
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


def add_agreement(tools: dict[str, dict[str, Any]]) -> None:
    """Store, in each successful tool's entry, its agreement with the reference tool."""
    reference = tools.get(REFERENCE_TOOL, {})
    if reference.get("status") != "ok":
        return
    for name, entry in tools.items():
        if name != REFERENCE_TOOL and entry.get("status") == "ok":
            entry["agreement_vs_" + REFERENCE_TOOL] = agreement(entry, reference)


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


def case_section(case: Mapping[str, Any]) -> str:
    tools = case["tools"]
    reference_time = median_time(tools.get(REFERENCE_TOOL, {}))
    rows = [_tool_row(name, entry, reference_time) for name, entry in tools.items()]
    notes = [f"- {name}: {note}" for name, entry in tools.items() for note in entry.get("notes") or []]
    lines = [f"## {case['name']}", "", case["description"], "", f"`{case['formula']}`", ""]
    return "\n".join([*lines, TABLE_HEADER, *rows, *(["", *notes] if notes else [])])


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
        "higher (worse) REML criterion; θ, β and df are the largest relative differences. "
        "Timings are indicative when the load average is above 0."
    )
    sections = [case_section(case) for case in run["cases"]]
    return "\n\n".join([intro, machine_section(run), *sections]) + "\n"
