"""The report's text content — tables and sentences as plain strings, shared by the HTML
page, the Markdown file and the notebook summary (so all three say the same thing).

Nothing here is escaped: the HTML side escapes every cell (:mod:`poolstride.report.markup`),
the Markdown side escapes for Markdown.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from poolstride.experiment.estimate import duration
from poolstride.experiment.results import PRIMARY_METRIC, Results
from poolstride.experiment.stats import (
    BETTER,
    EQUIVALENT,
    METRICS,
    NOT_TESTED,
    UNDECIDED,
    WORSE,
    Summary,
    Verdict,
    describe,
    format_p,
    margin_text,
)
from poolstride.report.run import RunData


@dataclass
class Table:
    """``headers`` and ``rows`` of strings; ``numeric[i]`` right-aligns column ``i``."""

    headers: list[str]
    rows: list[list[str]]
    numeric: list[bool] = field(default_factory=list)
    key_column: int | None = 0  # column holding the variant name (gets its colour swatch)

    def __post_init__(self):
        if not self.numeric:
            self.numeric = [False] * len(self.headers)


def fmt_ci(s: Summary | None, scale: float = 1.0, digits: int = 1) -> str:
    """``"91.2 [90.1, 92.3]"``; the mean alone when n = 1; ``"–"`` when nothing was measured."""
    if s is None or s.n == 0 or not math.isfinite(s.mean):
        return "–"
    mean = f"{s.mean * scale:.{digits}f}"
    if s.n < 2 or not (math.isfinite(s.lo) and math.isfinite(s.hi)):
        return mean
    return f"{mean} [{s.lo * scale:.{digits}f}, {s.hi * scale:.{digits}f}]"


def fmt_count(x: float | None) -> str:
    """``12345 -> "12.3k"`` (k, M, G); ``"–"`` for missing values."""
    if x is None or not math.isfinite(x):
        return "–"
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= div:
            return f"{x / div:.3g}{suffix}"
    return f"{x:.0f}"


def n_text(data: RunData) -> str:
    """``"n=3 seeds per variant"`` or the range when it differs between variants."""
    ns = sorted({len(data.runs_of(v)) for v in data.variants})
    if not ns:
        return "no finished runs"
    if len(ns) == 1:
        return f"n={ns[0]} seed{'s' if ns[0] != 1 else ''} per variant"
    if data.results.design is not None:
        return f"n={ns[0]}–{ns[-1]} seeds per variant (seeds added until decided)"
    return f"n={ns[0]}–{ns[-1]} seeds per variant (some runs failed)"


def headline(data: RunData) -> str:
    """One sentence: what was compared, on what, with how many seeds and which budget."""
    cfg = data.shared_config()
    parts = [f"{len(data.variants)} downsampling variants ({', '.join(data.variants)})"]
    if "dataset" in cfg:
        parts.append(f"on {cfg['dataset']}")
    if "model" in cfg:
        parts.append(f"with the {cfg['model']} model")
    budget = (
        f"{cfg['steps']} steps"
        if cfg.get("steps")
        else f"{cfg['epochs']} epochs"
        if cfg.get("epochs")
        else ""
    )
    text = f"Compared {' '.join(parts)}, {n_text(data)}"
    if budget:
        text += f", each trained for {budget}"
    if cfg.get("batch_size"):
        text += f" at batch {cfg['batch_size']}"
    if cfg.get("optimizer"):
        text += f" ({cfg['optimizer']}, lr {cfg.get('lr')}, {cfg.get('schedule', '')} schedule)"
    return text + f". Baseline: {data.baseline}."


def verdict_groups(data: RunData) -> list[tuple[str, list[str]]]:
    """``[(metric label with its margin, [verdict sentences])]``, test accuracy first; per
    metric better, worse, equivalent, undecided. Untested variants are left out (said once
    by :func:`untested_sentence`)."""
    res = data.results
    groups = []
    for metric in res.decisions:
        label = METRICS[metric].label if metric in METRICS else metric
        sentences = res.verdicts_for(metric)
        if sentences:
            groups.append(
                (f"{label} (margin {margin_text(metric, res.margins.get(metric))})", sentences)
            )
    return groups


#: Headings of the outcome groups (``{b}``: the baseline, ``{m}``: the margin).
OUTCOME_TITLES = {
    BETTER: "Better than {b}",
    WORSE: "Worse than {b}",
    EQUIVALENT: "Equivalent to {b} within {m}",
    UNDECIDED: "Undecided (more seeds needed)",
}


def outcome_groups(results: Results, metric: str = PRIMARY_METRIC) -> list[tuple[str, list[str]]]:
    """``metric``'s verdict sentences grouped by outcome: ``[(heading, [sentences])]`` for
    better, worse, equivalent and undecided, empty groups left out."""
    margin = margin_text(metric, results.margins.get(metric))
    out = []
    for kind, title in OUTCOME_TITLES.items():
        sentences = [
            _describe(results, metric, v, d) for v, d in results.ordered(metric) if d.kind == kind
        ]
        if sentences:
            out.append((title.format(b=results.baseline, m=margin), sentences))
    return out


def _describe(results: Results, metric: str, variant: str, verdict: Verdict) -> str:
    return describe(verdict, metric, variant, results.baseline)


def untested_sentence(results: Results) -> str:
    """One sentence for every comparison that could not be tested (``""`` if none)."""
    untested = results.untested
    if not untested:
        return ""
    ns = sorted(set(untested.values()))
    n = f"n={ns[0]}" if len(ns) == 1 else "n=" + "/".join(map(str, ns))
    return (
        f"Not tested ({n}; a comparison needs at least 2 paired seeds, so these are not "
        f"ties): {', '.join(untested)}."
    )


def method_sentence(results: Results) -> str:
    """How the verdicts were reached: tests, margin, Holm, intervals, in one paragraph."""
    m = sum(d.kind != NOT_TESTED for d in results.decisions.get(PRIMARY_METRIC, {}).values())
    margins = ", ".join(
        f"{METRICS[k].label if k in METRICS else k} {margin_text(k, v)}"
        for k, v in results.margins.items()
        if v is not None
    )
    holm = (
        f"Holm-corrected over the {m} comparison{'s' if m != 1 else ''} of each metric, "
        "separately for differences and equivalences"
    )
    if results.design is None:
        return (
            f"Paired by seed against {results.baseline}. Better/worse: paired t-test; "
            f"equivalent: two one-sided t-tests (TOST) within the margin; {holm}. "
            f"Margins: {margins}. Intervals: 95% t-intervals of the mean paired difference."
        ) + _wilcoxon_note(results)
    d = results.design
    return (
        f"Paired by seed against {results.baseline}; seeds until decided: group-sequential "
        f"paired t-test and TOST within the margin, looked at after {_looks(d.looks)} "
        "seeds with O'Brien–Fleming-type α spending "
        f"(Lan–DeMets) on exact t boundaries; {holm}, on repeated p-values. Margins: "
        f"{margins}. Intervals: repeated 95% CIs, valid at every look."
    ) + _wilcoxon_note(results)


def _looks(looks: tuple[int, ...]) -> str:
    """``3, 4, …, 10`` (or every look when there are few)."""
    if len(looks) <= 4:
        return ", ".join(map(str, looks))
    return f"{looks[0]}, {looks[1]}, …, {looks[-1]}"


def _wilcoxon_note(results: Results) -> str:
    if results.test != "wilcoxon":
        return ""
    return (
        " (--test wilcoxon: the Wilcoxon signed-rank p-values are in results.json's "
        "comparisons; the verdicts use the t-tests.)"
    )


def auto_lines(results: Results) -> list[str]:
    """What ``--seeds auto`` did: seeds per variant, runs, rounds, wall time, and which
    comparisons stayed undecided and why (``[]`` for a fixed number of seeds)."""
    auto = results.auto
    if auto is None:
        return []
    seeds = results.seeds_used()
    runs = sum(seeds.values())
    fixed = len(results.variants) * auto.design.max_seeds
    minutes, sec = divmod(round(auto.wall_s), 60)
    wall = f"{minutes} min {sec} s" if minutes else f"{sec} s"
    lines = [
        "Seeds used (until decided): "
        + ", ".join(f"{v} {n}" for v, n in seeds.items())
        + f" — {runs} runs in {len(auto.rounds)} round{'s' if len(auto.rounds) != 1 else ''}"
        f" (a fixed {auto.design.max_seeds}-seed grid: {fixed}); wall time {wall}."
    ]
    if not auto.reasons:
        lines.append("Every test-accuracy comparison is decided.")
    else:
        parts = []
        for v, why in auto.reasons.items():
            need = results.details.get(v, {}).get("seeds_needed")
            hint = f"; a fixed design would need about {need} seeds" if need else ""
            parts.append(f"{v} ({why}{hint})")
        lines.append("Undecided: " + "; ".join(parts) + ".")
    return lines


def bottom_line(data: RunData) -> str:
    """The plain answer for test accuracy: which variants are better, worse, equivalent
    within the margin, or undecided against the baseline -- never a tie for an untested one."""
    res = data.results
    acc = res.decisions.get(PRIMARY_METRIC, {})
    if not acc:
        if len(data.variants) < 2:
            return "Only one variant was run, so there is nothing to compare."
        return "No paired comparison of test accuracy was possible (no finished baseline runs)."
    margin = margin_text(PRIMARY_METRIC, res.margins.get(PRIMARY_METRIC))
    words = {
        BETTER: f"more accurate than {data.baseline}",
        WORSE: f"less accurate than {data.baseline}",
        EQUIVALENT: f"equivalent to {data.baseline} within {margin}",
        UNDECIDED: "undecided",
    }
    out = []
    for kind, text in words.items():
        names = [v for v, d in acc.items() if d.kind == kind]
        if names:
            out.append(f"{text}: {', '.join(names)}")
    untested = res.untested
    if untested:
        ns = sorted(set(untested.values()))
        out.append(f"not tested (n={'/'.join(map(str, ns))}): {', '.join(untested)}")
    how = "group-sequential, seeds until decided" if res.design is not None else "fixed seeds"
    text = f"Test accuracy (paired t-test and TOST, {how}, Holm-corrected; margin {margin}): "
    text += "; ".join(out) + "."
    if any(d.kind == UNDECIDED for d in acc.values()) and res.design is None:
        text += " Undecided needs more seeds: --seeds auto adds them until decided."
    return text


def verdict_table(data: RunData) -> Table:
    """Test accuracy against the baseline, one row per variant: verdict, paired difference
    with its interval, the bootstrap interval, the probability of improvement, p-values,
    seeds used and the seeds a fixed design would need to resolve the margin."""
    res = data.results
    acc = res.decisions.get(PRIMARY_METRIC, {})
    rows = []
    for v, d in acc.items():
        det = res.details.get(v, {})
        boot = det.get("bootstrap")
        p_imp = det.get("p_improvement", math.nan)
        need = det.get("seeds_needed")
        tested = d.kind != NOT_TESTED
        rows.append(
            [
                v,
                d.kind,
                fmt_ci(Summary(d.diff, d.lo, d.hi, math.nan, d.n), 100) if tested else "–",
                _interval(boot.lo, boot.hi, 100) if boot is not None else "–",
                f"{100 * p_imp:.0f}%" if math.isfinite(p_imp) else "–",
                format_p(d.p_adj)[2:] if math.isfinite(d.p_adj) else "–",
                format_p(d.p_equiv_adj)[2:] if math.isfinite(d.p_equiv_adj) else "–",
                str(d.n) + (" (cap)" if d.capped else ""),
                str(need) if need is not None and d.kind == UNDECIDED else "–",
            ]
        )
    margin = margin_text(PRIMARY_METRIC, res.margins.get(PRIMARY_METRIC))
    headers = [
        "variant",
        "verdict",
        "Δ acc, points [95% CI]",
        "bootstrap 95% CI (BCa)",
        f"P(beats {data.baseline})",
        "p, difference (Holm)",
        f"p, equivalence {margin} (Holm)",
        "seeds",
        f"seeds a fixed design needs for {margin}",
    ]
    return Table(headers, rows, [False, False] + [True] * 7)


VERDICT_NOTE = (
    "Δ: mean paired difference from the baseline (seed k against seed k). Bootstrap: BCa "
    "interval of the same mean (scipy.stats.bootstrap; too narrow with few seeds, read it "
    "beside the t-interval; none below 3 seeds). P(beats): share of seeds on which the "
    "variant was more accurate than the baseline (ties count half). Last column, for "
    "undecided comparisons: seeds a fixed design would need for 80% power to show "
    "equivalence within the margin if the true difference were 0, at the observed SD of "
    "the paired differences."
)


def _interval(lo: float, hi: float, scale: float) -> str:
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return "–"
    return f"[{lo * scale:.1f}, {hi * scale:.1f}]"


#: How each paired test is named in sentences.
TEST_NAMES = {"t": "t-test", "wilcoxon": "Wilcoxon signed-rank test"}


def results_table(data: RunData, exports: Mapping[str, str] | None = None) -> Table:
    """One row per variant: n, mean [95% CI] of the main metrics, Δ accuracy vs baseline;
    with ``exports`` (variant -> cell, :func:`poolstride.report.exports.export_column`) a
    last column "exports to ONNX"."""
    deltas = data.results.decisions.get(PRIMARY_METRIC, {})
    headers = [
        "variant",
        "n",
        "test acc %",
        "Δ acc vs baseline, points",
        "test loss",
        "shift consist. circular %",
        "shift consist. crop %",
        "params",
        "MACs",
        "train time s",
        "inference samples/s",
        "train step ms (fastest config)",
    ]
    rows = []
    for v in data.variants:
        s = data.results.summary.get(v, {})
        n = len(data.runs_of(v))
        if v == data.baseline:
            delta = "(baseline)"
        elif v in deltas:
            d = deltas[v]
            delta = fmt_ci(Summary(d.diff, d.lo, d.hi, math.nan, d.n), 100) + f", {d.kind}"
        else:
            delta = "–"
        rows.append(
            [
                v,
                str(n),
                fmt_ci(s.get("test_acc"), 100),
                delta,
                fmt_ci(s.get("test_loss"), 1, 3),
                fmt_ci(s.get("shift_consistency_circular"), 100),
                fmt_ci(s.get("shift_consistency_crop"), 100),
                fmt_count(_mean(s.get("params"))),
                fmt_count(_mean(s.get("macs"))),
                fmt_ci(s.get("train_time_s"), 1, 1),
                fmt_count(_mean(s.get("throughput_sps"))),
                fmt_ci(s.get("step_ms"), 1, 1),
            ]
        )
    numeric = [False] + [True] * (len(headers) - 1)
    if exports:
        headers.append("exports to ONNX")
        numeric.append(False)
        for v, row in zip(data.variants, rows):
            row.append(exports.get(v, "–"))
    return Table(headers, rows, numeric)


RESULTS_NOTE = (
    "Mean over seeds with its 95% t-interval in brackets (with few seeds an "
    "interval can reach past a metric's range); n = finished seeds. "
    "Δ: paired by seed against the baseline, with its interval and the verdict (better / "
    "worse / equivalent within the margin / undecided; see Verdict). MACs count conv/linear multiply-accumulates "
    "of one input; pooling is counted separately in the per-layer tables."
)


def _mean(s: Summary | None) -> float | None:
    return s.mean if s is not None and s.n > 0 else None


def speed_table(data: RunData) -> Table:
    """One row per variant: the configuration it trained in and the fastest one after
    training (each the most common over its seeds), the mean training-step ms of every
    configuration timed, and the pooling kernels it used."""
    per_variant = {v: [r.metrics for r in data.runs_of(v)] for v in data.variants}
    configs: list[str] = []
    for runs in per_variant.values():
        for m in runs:
            configs += [c for c in _by_config(m) if c not in configs]
    configs.sort(key=lambda c: (not c.startswith("contiguous"), c))  # the store sorts keys
    rows = []
    for v, runs in per_variant.items():
        row = [v, _most_common(runs, "train_step_config"), _most_common(runs, "step_config")]
        for c in configs:
            ms = [_by_config(m)[c] for m in runs if c in _by_config(m)]
            row.append(f"{sum(ms) / len(ms):.1f}" if ms else "–")
        row += machine_load(runs)
        used: list[str] = []
        for m in runs:
            names = m.get("downsampling_kernels")
            if isinstance(names, list):
                used += [str(k) for k in names if str(k) not in used]
        row.append("; ".join(used) or "–")
        rows.append(row)
    headers = [
        "variant",
        "trained in",
        "fastest configuration",
        *(f"{c}, ms" for c in configs),
        "training CPU in the kernel",
        "page faults / step",
        "downsampling kernels (fastest configuration)",
    ]
    return Table(headers, rows, [False, False, False] + [True] * (len(configs) + 2) + [False])


def _most_common(runs: Sequence[dict[str, Any]], name: str) -> str:
    """The most common value of metric ``name`` over ``runs`` ("–" if none has it)."""
    seen = Counter(str(m[name]) for m in runs if m.get(name))
    return seen.most_common(1)[0][0] if seen else "–"


def machine_load(runs: Sequence[dict[str, Any]]) -> list[str]:
    """Mean over a variant's runs of the training loop's system share (``"31%"``) and minor
    page faults per step, with the allocator when not every run used ``retain``."""
    shares = [m["train_system_share"] for m in runs if _finite(m.get("train_system_share"))]
    faults = [
        m["train_minor_faults"] / m["steps"]
        for m in runs
        if _finite(m.get("train_minor_faults")) and _finite(m.get("steps")) and m["steps"] > 0
    ]
    share = f"{100 * sum(shares) / len(shares):.0f}%" if shares else "–"
    allocators = sorted({str(m["allocator"]) for m in runs if m.get("allocator")})
    if allocators and allocators != ["retain"]:
        share += f" ({', '.join(allocators)} allocator)"
    return [share, fmt_count(sum(faults) / len(faults)) if faults else "–"]


def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


SPEED_NOTE = (
    "Each variant's training step (forward and backward of one batch) is timed in "
    "every memory format and with poolstride's pooling kernels on and off, "
    "interleaved, medians over rounds; the fastest configuration is the one "
    "reported, so no variant is judged by a slow pooling implementation. Before training, the "
    "same timing on a fresh model picked the configuration each variant trained in (the default, "
    "contiguous with poolstride's kernels, unless another was at least 10% faster; --no-autotune "
    "keeps the default); results differ between configurations only by floating-point rounding. The share of the "
    "training loop's CPU time spent in the kernel and its page faults per step show when the "
    "machine (handing memory back and forth), not the model, is the bottleneck."
)


def execution_lines(data: RunData) -> list[str]:
    """How the grid ran, to explain its timings: the wall time estimated before it started
    against the actual one (``timing.json``), and the threads per run and the machine's
    load average as runs ended (stored with each run; empty for runs stored before)."""
    out = []
    timing = data.timing
    if timing:
        est, actual = float(timing["estimated_s"]), float(timing["actual_s"])
        ratio = f" (actual / estimate = {actual / est:.2f})" if est > 0 else ""
        made = timing.get("estimate")
        shape = made.get("shape") if isinstance(made, dict) else None
        out.append(
            f"Wall time of the last compare that trained: estimated {duration(est)} before it "
            + (f"started ({shape}), " if shape else "started, ")
            + f"took {duration(actual)}{ratio}."
        )
    runs = [r.metrics for r in data.finished]
    threads = sorted({int(m["threads"]) for m in runs if _finite(m.get("threads"))})
    loads = [float(m["load_avg"]) for m in runs if _finite(m.get("load_avg"))]
    if threads:
        reasons = sorted({str(m["threads_choice"]) for m in runs if m.get("threads_choice")})
        # a reason starts with its thread count: "1 (measured: 1 thread 6 ms vs 2 threads 9 ms)"
        text = f"Torch threads per run: {'; '.join(reasons or map(str, threads))}"
        if loads:
            cores = sorted({int(m["cores"]) for m in runs if _finite(m.get("cores"))})
            on = f" on {', '.join(map(str, cores))} cores" if cores else ""
            text += f". Load average as runs ended: {min(loads):.1f} to {max(loads):.1f}{on}"
        out.append(text + ".")
    return out


def _by_config(metrics: dict[str, Any]) -> dict[str, float]:
    """A run's ``step_ms_by_config``, finite numbers only (``{}`` for older runs)."""
    by_config = metrics.get("step_ms_by_config")
    if not isinstance(by_config, dict):
        return {}
    return {
        str(c): float(ms)
        for c, ms in by_config.items()
        if isinstance(ms, (int, float)) and math.isfinite(ms)
    }


def runs_table(data: RunData) -> Table:
    """One row per stored run (finished or failed), in variant then seed order."""
    order = {v: i for i, v in enumerate(data.variants)}

    def key(r):
        return (order.get(str(r.config.get("variant")), len(order)), _int(r.config.get("seed")))

    rows = []
    for r in sorted(data.records, key=key):
        m = r.metrics
        acc = m.get("test_acc")
        rows.append(
            [
                str(r.config.get("variant", "?")),
                str(r.config.get("seed", "?")),
                r.status,
                f"{100 * acc:.1f}" if isinstance(acc, (int, float)) else "–",
                _fixed(m.get("final_train_loss"), 3),
                _fixed(m.get("train_time_s"), 1),
                _fixed(m.get("peak_memory_mb"), 0),
                r.key,
                r.reason or "",
            ]
        )
    return Table(
        [
            "variant",
            "seed",
            "status",
            "test acc %",
            "final train loss",
            "train time s",
            "peak memory MiB",
            "key",
            "reason (failed runs)",
        ],
        rows,
        [False, True, False, True, True, True, True, False, False],
    )


def _int(x: Any) -> int:
    try:
        return int(x)
    except (TypeError, ValueError):
        return 0


def _fixed(x: Any, digits: int) -> str:
    return f"{x:.{digits}f}" if isinstance(x, (int, float)) and math.isfinite(x) else "–"


def config_table(data: RunData) -> Table:
    """Every config field: its value when shared by all runs, else the values it took."""
    shared = data.shared_config()
    varying = data.varying_config()
    rows = [[k, _value(v)] for k, v in shared.items()]
    rows += [
        [k, ", ".join(_value(x) for x in vals) + "  (varies by run)"] for k, vals in varying.items()
    ]
    return Table(["field", "value"], rows, key_column=None)


def environment_table(data: RunData) -> Table:
    rows = [[k, ", ".join(v)] for k, v in data.environment().items()]
    return Table(["", "value"], rows, key_column=None)


def _value(v: Any) -> str:
    if v is None:
        return "None (default)"
    return str(v)


def profile_table(table: Any) -> Table:
    """A :class:`poolstride.analysis.profile.ProfileTable` as rows of strings."""
    # rows carry the batch dimension (the profile ran a batch of 1); totals do not
    rows = table.cell_rows(per_input=True, memory=False)
    return Table(
        [
            "layer",
            "type",
            "output shape (per input)",
            "params",
            "MACs",
            "pool ops",
            "receptive field",
            "jump",
        ],
        rows,
        [False, False, False, True, True, True, False, True],
        key_column=None,
    )


def profile_summary(table: Any) -> str:
    t = table.totals
    rf = f", receptive field {t.receptive_field}" if t.receptive_field is not None else ""
    return (
        f"input {_shape(t.input_shape)} → {_shape(t.output_shape)}; "
        f"{fmt_count(t.params)} params, {fmt_count(t.macs)} MACs, "
        f"{fmt_count(t.pool_ops)} pooling ops{rf}"
    )


def _shape(shape: Sequence[int] | None) -> str:
    return "×".join(str(s) for s in shape) if shape else ""


def _jump(rf: Any) -> str:
    return rf.jump_text() if rf is not None else ""


__all__ = [
    "RESULTS_NOTE",
    "SPEED_NOTE",
    "execution_lines",
    "Table",
    "VERDICT_NOTE",
    "auto_lines",
    "bottom_line",
    "config_table",
    "environment_table",
    "fmt_ci",
    "fmt_count",
    "headline",
    "method_sentence",
    "n_text",
    "outcome_groups",
    "profile_summary",
    "profile_table",
    "results_table",
    "runs_table",
    "speed_table",
    "untested_sentence",
    "verdict_groups",
    "verdict_table",
]
