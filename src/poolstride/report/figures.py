"""The report's figures, drawn with matplotlib (Agg, no pyplot state) from stored metrics.

Each figure function takes a :class:`~poolstride.report.run.RunData` and the variant styles
and returns a :class:`matplotlib.figure.Figure`, or raises :class:`MissingData` saying which
metric the store lacks (the report then prints that sentence instead of the figure). Every
variant has the same colour and marker in every figure (:mod:`poolstride.report.palette`).

Error bars and bands are 95% t-intervals over seeds (:func:`poolstride.experiment.stats.mean_ci`);
with one seed there is no interval and only the mean is drawn.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from poolstride.experiment.stats import mean_ci
from poolstride.report.palette import Style
from poolstride.report.run import RunData

# Agg for anything that needs a canvas; the Figure API never opens a window.
matplotlib.use("Agg", force=False)

#: Figure width in inches: 960 px at the SVG's 96 px per inch (fits a 1280 px laptop page).
WIDTH = 10.0
_RC = {
    "svg.fonttype": "path",  # text as paths: the SVG renders the same with no fonts installed
    "svg.hashsalt": "poolstride",  # stable element ids: same data, same file
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
}


class MissingData(Exception):
    """The store lacks what a figure needs; the message says what, in one sentence."""


@dataclass(frozen=True)
class FigureFile:
    """A rendered figure: ``svg`` text and where it was saved, or why it is ``missing``."""

    name: str
    title: str
    caption: str
    svg: str = ""
    path: Path | None = None
    missing: str = ""


def _mean_band(
    rows: Sequence[Sequence[float]], lower: float = -math.inf, upper: float = math.inf
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Column-wise mean and 95% CI of equally long rows (one row per seed).

    The band is clipped to ``[lower, upper]``: with 2-3 seeds a t-interval of a bounded
    quantity (an accuracy, a loss) can reach past its bounds, which only draws the eye.
    """
    arr = np.asarray(rows, dtype=float)
    stats = [mean_ci(arr[:, j]) for j in range(arr.shape[1])]
    mean = np.array([s.mean for s in stats])
    lo = np.array([s.lo if math.isfinite(s.lo) else s.mean for s in stats])
    hi = np.array([s.hi if math.isfinite(s.hi) else s.mean for s in stats])
    return mean, np.clip(lo, lower, upper), np.clip(hi, lower, upper)


def _legend(fig: Figure, axes, data: RunData) -> None:
    handles, labels = [], []
    for ax in np.ravel(axes):
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    if handles:
        fig.legend(
            handles, labels, loc="outside upper center", ncols=min(len(labels), 6), frameon=False
        )


def _label(data: RunData, variant: str) -> str:
    n = len(data.runs_of(variant))
    base = " (baseline)" if variant == data.baseline else ""
    return f"{variant}{base}, n={n}"


def accuracy_vs_cost(data: RunData, styles: dict[str, Style]) -> Figure:
    """Test accuracy (mean, 95% CI) against parameters and against MACs, one point per variant."""
    fig = Figure(figsize=(WIDTH, 3.8), layout="constrained")
    axes = fig.subplots(1, 2, sharey=True)
    drawn = 0
    for ax, cost, xlabel in (
        (axes[0], "params", "parameters"),
        (axes[1], "macs", "MACs per input (conv/linear; pooling separate)"),
    ):
        for v in data.variants:
            acc = [100 * a for a in data.metric(v, "test_acc")]
            xs = data.metric(v, cost)
            if not acc or not xs:
                continue
            s = mean_ci(acc)
            x = float(np.mean(xs))
            yerr = None
            if s.n >= 2:  # clipped to 0-100% like the bands (see _mean_band)
                yerr = [[s.mean - max(s.lo, 0.0)], [min(s.hi, 100.0) - s.mean]]
            st = styles[v]
            ax.errorbar(
                [x],
                [s.mean],
                yerr=yerr,
                fmt=st.marker,
                color=st.color,
                ms=8,
                capsize=4,
                elinewidth=1.5,
                label=_label(data, v),
            )
            ax.annotate(
                v,
                (x, s.mean),
                xytext=(6, 6),
                textcoords="offset points",
                fontsize=9,
                color=st.color,
            )
            drawn += 1
        ax.set_xlabel(xlabel)
        _log_if_wide(ax)
    if not drawn:
        raise MissingData("no run recorded test_acc together with params / macs")
    axes[0].set_ylabel("test accuracy, % (mean, 95% CI)")
    axes[0].set_title("accuracy vs parameters")
    axes[1].set_title("accuracy vs compute")
    _legend(fig, axes, data)
    return fig


def forest(data: RunData, styles: dict[str, Style]) -> Figure:
    """Each variant's paired test-accuracy difference from the baseline with its interval,
    the ±margin band shaded, the verdict written beside it (one row per tested variant)."""
    res = data.results
    rows = [(v, d) for v, d in res.decisions.get("test_acc", {}).items() if d.n >= 2]
    if not rows:
        raise MissingData("no run recorded test_acc on 2 or more seeds paired with the baseline")
    margin = res.margins.get("test_acc")
    fig = Figure(figsize=(WIDTH, max(2.2, 1.3 + 0.45 * len(rows))), layout="constrained")
    ax = fig.subplots()
    if margin is not None:
        ax.axvspan(
            -100 * margin, 100 * margin, color="#999999", alpha=0.22, lw=0,
            label=f"±{100 * margin:g} points (equivalence margin)",
        )  # fmt: skip
    ax.axvline(0, color="#555555", lw=0.8)
    for i, (v, d) in enumerate(rows):
        y = len(rows) - 1 - i
        st = styles[v]
        lo, hi = 100 * d.lo, 100 * d.hi
        xerr = None
        if math.isfinite(lo) and math.isfinite(hi):
            xerr = [[100 * d.diff - lo], [hi - 100 * d.diff]]
        ax.errorbar(
            [100 * d.diff], [y], xerr=xerr, fmt=st.marker, color=st.color, ms=7, capsize=4,
            elinewidth=1.6,
        )  # fmt: skip
        ax.annotate(
            f"{d.kind}, n={d.n}",
            (1.0, y),
            xycoords=("axes fraction", "data"),
            xytext=(6, 0),
            textcoords="offset points",
            va="center",
            fontsize=9,
            color=st.color,
        )
    ax.set_yticks(range(len(rows)), [v for v, _ in rows][::-1])
    ax.set_ylim(-0.7, len(rows) - 0.3)
    ax.grid(axis="y", visible=False)
    ci = "repeated 95% CI" if res.design is not None else "95% CI"
    ax.set_xlabel(f"test accuracy − {data.baseline}, points (paired by seed; mean, {ci})")
    ax.set_title(f"difference from {data.baseline}", loc="left")
    if margin is not None:
        fig.legend(loc="outside upper right", frameon=False, fontsize=8)
    return fig


def _log_if_wide(ax) -> None:
    xs = [x for line in ax.lines for x in np.atleast_1d(line.get_xdata()) if x > 0]
    if xs and max(xs) / min(xs) > 20:
        ax.set_xscale("log")
    ax.margins(x=0.25, y=0.15)


def shift_consistency(data: RunData, styles: dict[str, Style]) -> Figure:
    """Fraction of predictions unchanged at each shift offset, circular and crop shifts."""
    fig = Figure(figsize=(WIDTH, 3.8), layout="constrained")
    axes = fig.subplots(1, 2, sharey=True)
    drawn = 0
    for ax, mode in zip(axes, ("circular", "crop")):
        for v in data.variants:
            rows, offsets = [], None
            for m in data.metric(v, "consistency_by_offset"):
                if isinstance(m, dict) and isinstance(m.get(mode), list) and m.get("offsets"):
                    if offsets is None:
                        offsets = list(m["offsets"])
                    if list(m["offsets"]) == offsets and len(m[mode]) == len(offsets):
                        rows.append([100 * (x if x is not None else math.nan) for x in m[mode]])
            if not rows:
                continue
            mean, lo, hi = _mean_band(rows, 0.0, 100.0)
            st = styles[v]
            ax.plot(offsets, mean, marker=st.marker, color=st.color, label=_label(data, v))
            if len(rows) > 1:
                ax.fill_between(offsets, lo, hi, color=st.color, alpha=0.15, lw=0)
            drawn += 1
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(f"{mode} shift")
        ax.set_xlabel("shift offset (samples / pixels)")
    if not drawn:
        raise MissingData("no run recorded consistency_by_offset (shift consistency per offset)")
    axes[0].set_ylabel("predictions unchanged, %")
    _legend(fig, axes, data)
    return fig


def feature_stability(data: RunData, styles: dict[str, Style]) -> Figure:
    """Relative change of each downsampling layer's output under a one-sample input shift."""
    per: dict[str, dict[str, list[float]]] = {}
    for v in data.variants:
        for m in data.metric(v, "feature_stability"):
            if isinstance(m, dict):
                for layer, value in m.items():
                    if math.isfinite(_num(value)):
                        per.setdefault(v, {}).setdefault(layer, []).append(_num(value))
    if not per:
        raise MissingData("no run recorded feature_stability (per downsampling layer)")
    layers = merge_orders([list(d) for d in per.values()])
    fig = Figure(figsize=(WIDTH, 3.6), layout="constrained")
    ax = fig.subplots()
    width = 0.8 / len(per)
    for i, (v, by_layer) in enumerate(per.items()):
        xs, means, err = [], [], [[], []]
        for j, layer in enumerate(layers):
            if layer not in by_layer:
                continue
            s = mean_ci(by_layer[layer])
            xs.append(j - 0.4 + width * (i + 0.5))
            means.append(100 * s.mean)
            ok = s.n >= 2 and math.isfinite(s.lo)
            err[0].append(100 * (s.mean - max(s.lo, 0.0)) if ok else 0.0)
            err[1].append(100 * (s.hi - s.mean) if ok else 0.0)
        st = styles[v]
        ax.bar(
            xs,
            means,
            width=width * 0.9,
            color=st.color,
            label=_label(data, v),
            yerr=err,
            capsize=3,
            error_kw={"elinewidth": 1, "ecolor": "#333333"},
        )
    ax.set_xticks(range(len(layers)))
    ax.set_xticklabels(layers, rotation=30 if len(layers) > 6 else 0, fontsize=9)
    ax.set_xlabel("downsampling layer (input → output)")
    ax.set_ylabel("output change, % of its norm")
    ax.set_title("feature change under a one-sample shift (lower = more shift-stable)")
    ax.set_ylim(bottom=0)
    _legend(fig, ax, data)
    return fig


def learning_curves(data: RunData, styles: dict[str, Style]) -> Figure:
    """Training loss per log window and test accuracy at the evaluation points."""
    fig = Figure(figsize=(WIDTH, 3.8), layout="constrained")
    axes = fig.subplots(1, 2)
    drawn = 0
    for ax, xkey, ykey, scale, upper in (
        (axes[0], "step", "train_loss", 1.0, math.inf),
        (axes[1], "eval_step", "test_acc", 100.0, 100.0),
    ):
        for v in data.variants:
            curves = [
                c
                for c in data.metric(v, "curve")
                if isinstance(c, dict) and c.get(xkey) and c.get(ykey)
            ]
            if not curves:
                continue
            # seeds share the schedule, so their x values agree; keep the common prefix
            length = min(min(len(c[xkey]), len(c[ykey])) for c in curves)
            xs = curves[0][xkey][:length]
            rows = [
                [scale * (y if y is not None else math.nan) for y in c[ykey][:length]]
                for c in curves
                if c[xkey][:length] == xs
            ]
            mean, lo, hi = _mean_band(rows, 0.0, upper)
            st = styles[v]
            ax.plot(
                xs,
                mean,
                color=st.color,
                marker=st.marker,
                markevery=max(1, length // 8),
                ms=5,
                label=_label(data, v),
            )
            if len(rows) > 1:
                ax.fill_between(xs, lo, hi, color=st.color, alpha=0.15, lw=0)
            drawn += 1
        ax.set_xlabel("optimiser step")
    if not drawn:
        raise MissingData("no run recorded a learning curve (metric 'curve')")
    axes[0].set_ylabel("training loss (mean over log window)")
    axes[0].set_title("training loss")
    axes[1].set_ylabel("test accuracy, %")
    axes[1].set_title("test accuracy during training")
    _legend(fig, axes, data)
    return fig


def merge_orders(orders: Sequence[Sequence[str]]) -> list[str]:
    """One sequence holding every name, keeping each input's relative order where possible.

    ``[["a", "c"], ["a", "b", "c"]] -> ["a", "b", "c"]``: a name new to the merged list is put
    right after the last name that precedes it in its own sequence.
    """
    merged: list[str] = []
    for order in orders:
        anchor = -1
        for name in order:
            if name in merged:
                anchor = merged.index(name)
            else:
                merged.insert(anchor + 1, name)
                anchor += 1
    return merged


def gradient_norms(data: RunData, styles: dict[str, Style]) -> Figure:
    """Gradient norm per layer at initialisation and after training (log scale)."""
    panels = (("grad_norm_init", "at initialisation"), ("grad_norm_final", "after training"))
    per: dict[str, dict[str, dict[str, float]]] = {}
    for key, _ in panels:
        for v in data.variants:
            runs = [m for m in data.metric(v, key) if isinstance(m, dict) and m]
            if runs:
                layers = list(runs[0])
                per.setdefault(key, {})[v] = {
                    name: _finite_mean([_num(r.get(name)) for r in runs]) for name in layers
                }
    if not per:
        raise MissingData("no run recorded grad_norm_init / grad_norm_final")
    layers = merge_orders([list(d) for key in per for d in per[key].values()])
    height = 4.2 if len(layers) <= 12 else 5.2
    fig = Figure(figsize=(WIDTH, height), layout="constrained")
    axes = fig.subplots(1, 2, sharey=True)
    pos = {name: i for i, name in enumerate(layers)}
    for ax, (key, title) in zip(axes, panels):
        for v, norms in per.get(key, {}).items():
            pts = [(pos[n], g) for n, g in norms.items() if math.isfinite(g) and g > 0]
            if not pts:
                continue
            st = styles[v]
            ax.plot(*zip(*pts), color=st.color, marker=st.marker, ms=5, label=_label(data, v))
        ax.set_title(f"gradient norm per layer, {title}")
        ax.set_yscale("log")
        ax.set_xticks(range(len(layers)))
        ax.set_xticklabels(
            layers,
            rotation=90 if len(layers) > 6 else 30,
            fontsize=8 if len(layers) > 12 else 9,
            ha="center",
        )
        ax.set_xlabel("layer (input → output)")
    axes[0].set_ylabel("‖gradient‖₂ on a fixed batch (mean over seeds)")
    _legend(fig, axes, data)
    return fig


def _finite_mean(values: Sequence[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return sum(finite) / len(finite) if finite else math.nan


def _num(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


#: (file stem, title, caption, function) in report order.
FIGURES: tuple[tuple[str, str, str, Callable[[RunData, dict[str, Style]], Figure]], ...] = (
    (
        "forest",
        "Test accuracy against the baseline",
        "Each variant's mean paired difference in test accuracy from the baseline (seed k "
        "against seed k) with its 95% interval — the repeated confidence interval when seeds "
        "were added until decided — and its verdict. The shaded band is the equivalence "
        "margin: an interval inside it is 'equivalent', one clear of zero (after Holm) "
        "'better' or 'worse', anything else 'undecided'.",
        forest,
    ),
    (
        "accuracy_vs_cost",
        "Accuracy vs parameters and compute",
        "Mean test accuracy of each variant with its 95% confidence interval over seeds (clipped "
        "to 0–100%), against "
        "its parameter count (left) and its multiply-accumulates per input (right). Up and to "
        "the left is better.",
        accuracy_vs_cost,
    ),
    (
        "shift_consistency",
        "Shift consistency per offset",
        "How often the predicted class stays the same when the input is shifted by each offset "
        "(0 = unshifted, always 100%). Circular shifts wrap around; crop shifts pad with zeros. "
        "Bands: 95% CI over seeds, clipped to 0–100%.",
        shift_consistency,
    ),
    (
        "feature_stability",
        "Feature stability per downsampling layer",
        "Relative L2 change ‖f(shift(x)) − f(x)‖ / ‖f(x)‖ of each downsampling layer's output when "
        "the input moves by one sample (circular shift), mean and 95% CI over seeds. A stride-2 "
        "layer cannot follow a one-sample shift exactly; the change measures how much aliasing "
        "perturbs it.",
        feature_stability,
    ),
    (
        "learning_curves",
        "Learning curves",
        "Training loss (left, averaged over each logging window) and test accuracy at the "
        "evaluation points (right); lines are means over seeds, bands their 95% CI (clipped "
        "to the metric's range).",
        learning_curves,
    ),
    (
        "gradient_norms",
        "Gradient norm per layer",
        "L2 norm of each layer's parameter gradient on one fixed training batch, at "
        "initialisation and after training. A layer far below the others receives little "
        "gradient (max pooling, for example, routes gradient to one input per window).",
        gradient_norms,
    ),
)


def render_figures(
    data: RunData, styles: dict[str, Style], out_dir: Path | None = None
) -> list[FigureFile]:
    """Draw every figure; save each as ``out_dir/<name>.svg`` when ``out_dir`` is given."""
    out: list[FigureFile] = []
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
    for name, title, caption, draw in FIGURES:
        with matplotlib.rc_context(_RC):
            try:
                fig = draw(data, styles)
            except MissingData as err:
                out.append(FigureFile(name, title, caption, missing=str(err)))
                continue
            buf = io.StringIO()
            fig.savefig(buf, format="svg", metadata={"Date": None})
        svg = buf.getvalue()
        path = None
        if out_dir is not None:
            path = out_dir / f"{name}.svg"
            path.write_text(svg)
        out.append(FigureFile(name, title, caption, svg=svg, path=path))
    return out


__all__ = ["FIGURES", "FigureFile", "MissingData", "merge_orders", "render_figures"]
