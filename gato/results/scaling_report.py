"""The scaling study's report (Gato's Fig. 8): held-out loss and score against model size and
training compute, with a fitted power law.

    fit = fit_power_law(flops, losses)   # loss ~ coefficient * flops ** -exponent
    text = format_table(points, fits)
    plot_scaling(path, points, fits)

A point is one model size: {"label", "params" (all), "transformer_params" (blocks only, the
non-embedding count scaling laws use), "train_flops" (6N + attention per token, times the
tokens seen: `gato.model.flops`), "tokens", "heldout_nll" (mean action nll per task on held-out
episodes, averaged over tasks and seeds), "score" ({"value", "ci"}: expert-normalized IQM with
its 95% interval, or None), "runs", "episodes", "step_seconds"}.
"""

import math
import pathlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from gato.results import statistics
from gato.results.figures import pyplot, save_figure

AXES = {"transformer_params": "transformer parameters (non-embedding)",
        "train_flops": "training FLOPs"}


def fit_power_law(x: Sequence[float], y: Sequence[float]) -> dict[str, float] | None:
    """Least squares of log y = log c - e log x: {"exponent": e, "coefficient": c, "r2",
    "points"}; None with fewer than 2 positive points."""
    pairs = [(a, b) for a, b in zip(x, y, strict=True)
             if a and b and a > 0 and b > 0 and math.isfinite(b)]
    if len(pairs) < 2:
        return None
    lx, ly = np.log([p[0] for p in pairs]), np.log([p[1] for p in pairs])
    slope, intercept = np.polyfit(lx, ly, 1)
    residual = ly - (intercept + slope * lx)
    spread = float(np.sum((ly - ly.mean()) ** 2))
    r2 = 1.0 - float(np.sum(residual ** 2)) / spread if spread > 0 else 1.0
    return {"exponent": float(-slope), "coefficient": float(np.exp(intercept)), "r2": r2,
            "points": len(pairs)}


def fits(points: Sequence[Mapping[str, Any]]) -> dict[str, dict | None]:
    """The held-out loss's power law against each of AXES."""
    return {axis: fit_power_law([p[axis] for p in points], [p["heldout_nll"] for p in points])
            for axis in AXES}


def format_table(points: Sequence[Mapping[str, Any]], fitted: Mapping[str, dict | None]) -> str:
    """Markdown: one row per size, then the fitted exponents."""
    lines = ["| size | params | transformer params | tokens | training FLOPs | s / step | "
             "held-out nll | IQM score [95% CI] |", "|---|---|---|---|---|---|---|---|"]
    for p in points:
        step = f"{p['step_seconds']:.2f}" if p.get("step_seconds") else "-"
        nll = f"{p['heldout_nll']:.3f}" if p.get("heldout_nll") is not None else "-"
        score = statistics.format_estimate(p.get("score"), 2, "n/a")
        lines.append(f"| {p['label']} | {p['params'] / 1e6:.2f}M | "
                     f"{p['transformer_params'] / 1e6:.2f}M | {p['tokens']:.3g} | "
                     f"{p['train_flops']:.3g} | {step} | {nll} | {score} |")
    lines.append("")
    for axis, fit in fitted.items():
        if fit:
            lines.append(f"- held-out nll ~ {fit['coefficient']:.3g} x ({AXES[axis]})^-"
                         f"{fit['exponent']:.3f} (R^2 {fit['r2']:.2f}, {fit['points']} sizes)")
        else:
            lines.append(f"- held-out nll against {AXES[axis]}: fewer than 2 sizes, no fit")
    return "\n".join(lines)


def plot_scaling(path: pathlib.Path, points: Sequence[Mapping[str, Any]],
                 fitted: Mapping[str, dict | None]) -> pathlib.Path:
    """Held-out nll against each axis (log-log, with its fit), and the IQM score with its
    interval against training FLOPs."""
    plt = pyplot()
    fig, axes = plt.subplots(1, len(AXES) + 1, figsize=(14, 4))
    for ax, (axis, name) in zip(axes, AXES.items(), strict=False):
        x = np.array([p[axis] for p in points], np.float64)
        y = np.array([np.nan if p.get("heldout_nll") is None else p["heldout_nll"]
                      for p in points], np.float64)
        ax.loglog(x, y, "o", color="tab:blue")
        for xi, yi, p in zip(x, y, points, strict=True):
            ax.annotate(p["label"], (xi, yi), textcoords="offset points", xytext=(4, 4))
        fit = fitted.get(axis)
        if fit:
            grid = np.geomspace(x.min(), x.max(), 50)
            ax.loglog(grid, fit["coefficient"] * grid ** -fit["exponent"], "--",
                      color="tab:gray", label=f"exponent {fit['exponent']:.3f}")
            ax.legend()
        ax.set_xlabel(name)
        ax.set_ylabel("held-out action nll")
        ax.yaxis.set_major_formatter(plt.matplotlib.ticker.FormatStrFormatter("%.2f"))
        ax.yaxis.set_minor_formatter(plt.matplotlib.ticker.FormatStrFormatter("%.2f"))
        ax.grid(alpha=0.3, which="both")
    ax = axes[-1]
    scored = [p for p in points if p.get("score")]
    if scored:
        x = [p["train_flops"] for p in scored]
        v = [p["score"]["value"] for p in scored]
        err = [[val - p["score"]["ci"][0] for val, p in zip(v, scored, strict=True)],
               [p["score"]["ci"][1] - val for val, p in zip(v, scored, strict=True)]]
        ax.errorbar(x, v, yerr=err, fmt="o-", capsize=3)
        ax.set_xscale("log")
    ax.set_xlabel("training FLOPs")
    ax.set_ylabel("expert-normalized IQM (95% CI)")
    ax.grid(alpha=0.3)
    return save_figure(fig, path)
