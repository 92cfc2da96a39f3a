"""Comparing evaluated arms on one dataset: bootstrap intervals, a per-task table, a sweep plot.

Inputs are plain dicts: each arm's per-task episode returns (from `Evaluator` results.json
"episodes"), the dataset manifests (`gato.data.formats.manifest`: the data's mean return and
its best behaviour policy's) and, for the sweep, (requested return, achieved returns) pairs.
Expert-normalized scores use the reference table (`gato.envs.scores`); their intervals are the
return intervals mapped through the same affine map.
"""

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np


def mean_interval(values: Sequence[float], confidence: float = 0.95, resamples: int = 4000,
                  seed: int = 0) -> tuple[float, float, float]:
    """(mean, low, high): the mean and its percentile-bootstrap interval (NaNs when empty)."""
    x = np.asarray(values, np.float64)
    if x.size == 0:
        return math.nan, math.nan, math.nan
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, x.size, (resamples, x.size))].mean(axis=1)
    tail = (1.0 - confidence) / 2
    low, high = np.quantile(means, [tail, 1.0 - tail])
    return float(x.mean()), float(low), float(high)


def normalized(task: str, value: float) -> float | None:
    """Expert-normalized `value` of `task`, None without a reference entry."""
    from gato.envs import scores

    try:
        return float(scores.expert_normalized(task, value))
    except (KeyError, ValueError):
        return None


def best_policy(manifest: Mapping[str, Any]) -> tuple[str, float]:
    """(label, mean return) of the behaviour policy with the highest mean return."""
    means = {label: p["returns"]["mean"] for label, p in manifest["policies"].items()
             if p["returns"]["mean"] is not None}
    label = max(means, key=means.get)
    return label, float(means[label])


def task_rows(manifests: Mapping[str, Mapping[str, Any]],
              arms: Mapping[str, Mapping[str, Sequence[float]]],
              confidence: float = 0.95) -> list[dict[str, Any]]:
    """One row per task: the data's mean return and best policy's, and per arm the mean
    return, its interval and expert-normalized scores. arms: arm -> task -> episode returns."""
    rows = []
    for task in sorted(manifests):
        m = manifests[task]
        label, best = best_policy(m)
        row = {"task": task, "data_mean": m["returns"]["mean"], "data_best_policy": label,
               "data_best_mean": best}
        for arm, per_task in arms.items():
            mean, low, high = mean_interval(per_task.get(task, ()), confidence)
            row[arm] = {"episodes": len(per_task.get(task, ())), "mean": mean, "low": low,
                        "high": high, "normalized": normalized(task, mean),
                        "normalized_low": normalized(task, low),
                        "normalized_high": normalized(task, high)}
        rows.append(row)
    return rows


def aggregate(rows: Sequence[Mapping[str, Any]], arms: Sequence[str]) -> dict[str, Any]:
    """Per arm: the mean expert-normalized score over tasks, and the tasks where the arm's mean
    return beats the data's mean and its best policy's mean."""
    out = {}
    for arm in arms:
        scores = [r[arm]["normalized"] for r in rows if r[arm]["normalized"] is not None]
        out[arm] = {"mean_normalized": float(np.mean(scores)) if scores else None,
                    "above_data_mean": [r["task"] for r in rows
                                        if r[arm]["mean"] > r["data_mean"]],
                    "above_best_policy": [r["task"] for r in rows
                                          if r[arm]["mean"] > r["data_best_mean"]]}
    return out


def _cell(entry: Mapping[str, Any]) -> str:
    if entry["episodes"] == 0:
        return "-"
    norm = "" if entry["normalized"] is None else (
        f" ({entry['normalized']:.2f} [{entry['normalized_low']:.2f}, "
        f"{entry['normalized_high']:.2f}])")
    return f"{entry['mean']:.1f} [{entry['low']:.1f}, {entry['high']:.1f}]{norm}"


def format_table(rows: Sequence[Mapping[str, Any]], arms: Sequence[str],
                 summary: Mapping[str, Any] | None = None) -> str:
    """A markdown table: per task the data's returns and each arm's mean return [interval]
    (expert-normalized [interval]); then the aggregate line."""
    head = ["task", "data mean", "data best policy (mean)", *arms]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["task"], f"{r['data_mean']:.1f}",
                 f"{r['data_best_policy']} ({r['data_best_mean']:.1f})",
                 *(_cell(r[arm]) for arm in arms)]
        lines.append("| " + " | ".join(cells) + " |")
    if summary:
        cells = ["mean expert-normalized", "", "",
                 *("-" if summary[a]["mean_normalized"] is None else
                   f"{summary[a]['mean_normalized']:.3f}" for a in arms)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot_sweep(path: str | Path, sweep: Mapping[str, Sequence[Mapping[str, Any]]],
               manifests: Mapping[str, Mapping[str, Any]], confidence: float = 0.95) -> None:
    """Achieved against requested return, one panel per task. sweep: task -> entries
    {"target", "requested" (None for sampled targets), "returns"}; the diagonal, the data's mean
    and best policy's mean are drawn; sampled targets ("expert", "none") as horizontal lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = sorted(sweep)
    cols = min(3, len(tasks))
    rows = math.ceil(len(tasks) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.6 * rows), squeeze=False)
    for ax, task in zip(axes.flat, tasks, strict=False):
        fixed = sorted((e for e in sweep[task] if e["requested"] is not None),
                       key=lambda e: e["requested"])
        stats = [mean_interval(e["returns"], confidence) for e in fixed]
        x = [e["requested"] for e in fixed]
        y = np.array([s[0] for s in stats])
        err = np.array([[s[0] - s[1] for s in stats], [s[2] - s[0] for s in stats]])
        ax.errorbar(x, y, yerr=err, marker="o", capsize=3, label="achieved")
        if x:
            ax.plot([min(x), max(x)], [min(x), max(x)], "k:", lw=1, label="asked")
        m = manifests.get(task)
        if m is not None:
            ax.axhline(m["returns"]["mean"], color="gray", ls="--", lw=1, label="data mean")
            ax.axhline(best_policy(m)[1], color="green", ls="--", lw=1, label="data best policy")
        for e in sweep[task]:
            if e["requested"] is None:
                ax.axhline(float(np.mean(e["returns"])), color="red", lw=1,
                           label=f"{e['target']} (drawn)")
        ax.set_title(task)
        ax.set_xlabel("requested return")
        ax.set_ylabel("achieved return")
    for ax in list(axes.flat)[len(tasks):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
