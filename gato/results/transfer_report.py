"""The transfer study's report (Gato's Fig. 9): held-out score against demonstrations N, per
pretraining variant, schedule and model size.

    rows = score_rows(runs, reps)     # runs: {(size, schedule, variant, n): {label: results}}
    text = format_tables(rows, learning_rates, shared)  # {(size, variant): lr}, shared lr
    plot_transfer(path, rows, size)   # two panels: each variant's own schedule, the shared one

A cell's score is the expert-normalized mean over the held-out task(s) of its fine-tuning seeds,
with the 95% stratified-bootstrap interval over those seeds (`gato.results.statistics`: one
row per run; with a single seed, one row per episode, which covers episode variation only).
"""

import pathlib
from collections.abc import Mapping, Sequence
from typing import Any

from gato.results import statistics
from gato.results.figures import COLORS, pyplot, save_figure

SCHEDULES = ("own", "shared")  # each variant's best learning rate, or the one shared by all
Key = tuple[str, str, str, int]  # (size, schedule, variant, n)


def score_rows(runs: Mapping[Key, Mapping[str, Mapping[str, Any]]], reps: int
               ) -> list[dict[str, Any]]:
    """One row per (size, schedule, variant, n), in the order of `runs`: the mean normalized
    score over the held-out tasks with its interval (None when a task lacks a normalized
    score), runs and episodes."""
    rows = []
    for (size, schedule, variant, n), by_label in runs.items():
        summary = statistics.summarize(by_label, reps)
        metrics = summary["groups"][statistics.ALL]["metrics"]
        mean = metrics["mean"] if metrics else None
        episodes = sum(int(row.get("episodes", 0)) for r in by_label.values()
                       for row in r["tasks"])
        rows.append({"size": size, "schedule": schedule, "variant": variant, "n": int(n),
                     "mean": None if mean is None else mean["value"],
                     "ci": None if mean is None else mean["ci"],
                     "unit": summary["unit"], "runs": len(by_label), "episodes": episodes,
                     "excluded": summary["excluded"]})
    return rows


def _cell(row: Mapping[str, Any] | None) -> str:
    if row is None:
        return "-"
    return statistics.format_estimate({"value": row["mean"], "ci": row["ci"]}, 2, "n/a")


def format_tables(rows: Sequence[Mapping[str, Any]],
                  learning_rates: Mapping[tuple[str, str], float], shared: float) -> str:
    """Markdown: per size, a table of variant x N for each schedule, with the learning rates."""
    index = {(r["size"], r["schedule"], r["variant"], r["n"]): r for r in rows}
    lines = []
    for size in sorted({r["size"] for r in rows}):
        ns = sorted({r["n"] for r in rows if r["size"] == size})
        variants = list(dict.fromkeys(r["variant"] for r in rows if r["size"] == size))
        for schedule in SCHEDULES:
            if not any(k[0] == size and k[1] == schedule for k in index):
                continue
            lines += [f"### {size}, {schedule} schedule", "",
                      "| variant | lr | " + " | ".join(f"N={n}" for n in ns) + " |",
                      "|---|---|" + "---|" * len(ns)]
            for variant in variants:
                lr = shared if schedule == "shared" else learning_rates.get((size, variant))
                cells = [_cell(index.get((size, schedule, variant, n))) for n in ns]
                lr_text = "-" if lr is None else f"{lr:g}"
                lines.append(f"| {variant} | {lr_text} | " + " | ".join(cells) + " |")
            lines.append("")
    return "\n".join(lines)


def ranking(rows: Sequence[Mapping[str, Any]], size: str, schedule: str) -> list[str]:
    """Variants of one size and schedule, best first by their mean score over N."""
    means: dict[str, list[float]] = {}
    for r in rows:
        if r["size"] == size and r["schedule"] == schedule and r["mean"] is not None:
            means.setdefault(r["variant"], []).append(r["mean"])
    return sorted(means, key=lambda v: -sum(means[v]) / len(means[v]))


def plot_transfer(path: pathlib.Path, rows: Sequence[Mapping[str, Any]], size: str
                  ) -> pathlib.Path:
    """Score against N (log axis) per variant with interval bands; one panel per schedule."""
    plt = pyplot()
    fig, axes = plt.subplots(1, len(SCHEDULES), figsize=(10, 4), sharey=True, squeeze=False)
    variants = list(dict.fromkeys(r["variant"] for r in rows if r["size"] == size))
    for ax, schedule in zip(axes[0], SCHEDULES, strict=True):
        for i, variant in enumerate(variants):
            points = sorted((r["n"], r["mean"], r["ci"]) for r in rows
                            if (r["size"], r["schedule"], r["variant"]) == (size, schedule, variant)
                            and r["mean"] is not None)
            if not points:
                continue
            n = [p[0] for p in points]
            color = COLORS[i % len(COLORS)]
            ax.plot(n, [p[1] for p in points], "o-", color=color, label=variant)
            ax.fill_between(n, [p[2][0] for p in points], [p[2][1] for p in points],
                            color=color, alpha=0.2)
        ax.set_xscale("log")
        ax.set_xlabel("fine-tuning demonstrations N")
        ax.set_title(f"{size}: {schedule} schedule")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("expert-normalized score (mean, 95% CI)")
    if axes[0][0].get_legend_handles_labels()[0]:
        axes[0][0].legend()
    return save_figure(fig, path)

