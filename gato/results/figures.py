"""Figures of aggregate scores (PNG, matplotlib), readable without the JSON beside them.

From a `gato.results.statistics.summarize` summary (one or several runs):
    scores_<suite>.png        per-task expert-normalized scores with their 95% intervals
    performance_profile.png   fraction of scores above each threshold, per suite and overall,
                              with bands (the profile that replaces Gato's Figure 5 counts)
    aggregates.png            IQM, mean, median and optimality gap with intervals per suite
From two summaries (`gato compare`), the same three with both runs side by side:
    compare_tasks.png, compare_profile.png, compare_aggregates.png
Tasks left out of an aggregate are drawn as an "x" at 0, named in the legend as excluded.
"""

import pathlib
from collections.abc import Mapping, Sequence
from typing import Any

from gato.results.statistics import ALL, METRIC_NAMES, describe_unit

COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown")


def pyplot():
    """matplotlib.pyplot on the Agg backend (files only, no display)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: pathlib.Path) -> pathlib.Path:
    """Writes `fig` to `path` (folders made), closes it, returns the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    pyplot().close(fig)
    return path


def plot_task_intervals(path: pathlib.Path, title: str, tasks: Sequence[str],
                        series: Mapping[str, Mapping[str, dict]]) -> pathlib.Path:
    """Grouped bars: for each task, one bar per series {label: {task: {"value", "ci"}}} with
    its interval; a task missing from a series is marked excluded."""
    plt = pyplot()
    width = 0.8 / max(1, len(series))
    fig, ax = plt.subplots(figsize=(max(6.5, 0.6 * len(tasks) * max(1, len(series)) + 2), 4.5))
    for k, (label, estimates) in enumerate(series.items()):
        color = COLORS[k % len(COLORS)]
        xs = [i + (k - (len(series) - 1) / 2) * width for i in range(len(tasks))]
        have = [(x, estimates[t]) for x, t in zip(xs, tasks, strict=True) if t in estimates]
        missing = [x for x, t in zip(xs, tasks, strict=True) if t not in estimates]
        if have:
            values = [100 * e["value"] for _, e in have]
            errors = [[100 * (e["value"] - e["ci"][0]) for _, e in have],
                      [100 * (e["ci"][1] - e["value"]) for _, e in have]]
            ax.bar([x for x, _ in have], values, width, yerr=errors, capsize=3, color=color,
                   label=label or None)
        if missing:
            ax.plot(missing, [0.0] * len(missing), "x", color=color, ms=9,
                    label=f"{label + ': ' if label else ''}excluded (see JSON/log)")
    ax.axhline(100, color="k", lw=0.8, ls="--")
    ax.axhline(0, color="k", lw=0.5)
    ax.set_xticks(range(len(tasks)), tasks, rotation=60, ha="right")
    ax.set_ylabel("expert-normalized score (%), 95% CI")
    ax.set_title(title, fontsize=10)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    return save_figure(fig, path)


def plot_profiles(path: pathlib.Path, title: str,
                  profiles: Mapping[str, Mapping[str, Sequence[float]]]) -> pathlib.Path:
    """One curve per {label: profile} (statistics.performance_profile) with its band."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for k, (label, p) in enumerate(profiles.items()):
        color = COLORS[k % len(COLORS)]
        x = [100 * t for t in p["thresholds"]]
        ax.plot(x, p["fraction"], color=color, label=label)
        ax.fill_between(x, p["ci_low"], p["ci_high"], color=color, alpha=0.2)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("threshold x (% of expert)")
    ax.set_ylabel("fraction of scores > x")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    return save_figure(fig, path)


def plot_aggregates(path: pathlib.Path, title: str,
                    groups: Mapping[str, Mapping[str, dict] | None]) -> pathlib.Path:
    """One panel per metric (IQM, mean, median, optimality gap): an interval per {label:
    metrics} row, the point estimate marked."""
    plt = pyplot()
    labels = [label for label, m in groups.items() if m]
    fig, axes = plt.subplots(1, len(METRIC_NAMES), figsize=(3.2 * len(METRIC_NAMES),
                                                            1.0 + 0.45 * max(1, len(labels))))
    for ax, metric in zip(axes, METRIC_NAMES, strict=True):
        for k, label in enumerate(labels):
            e = groups[label][metric]
            color = COLORS[k % len(COLORS)]
            ax.plot([100 * e["ci"][0], 100 * e["ci"][1]], [k, k], color=color, lw=6, alpha=0.5)
            ax.plot([100 * e["value"]], [k], "|", color="k", ms=14)
        ax.set_yticks(range(len(labels)), labels if ax is axes[0] else [""] * len(labels))
        ax.set_ylim(-0.6, len(labels) - 0.4)
        ax.set_title(metric.replace("_", " "), fontsize=10)
        ax.set_xlabel("% of expert")
    fig.suptitle(title, fontsize=10)
    return save_figure(fig, path)


def _tasks_of(summary: Mapping[str, Any], suite: str | None = None) -> list[str]:
    """Task names of a summary (included and excluded), ordered by (suite, name)."""
    pairs = {(v["suite"], t) for t, v in summary["tasks"].items()}
    pairs |= {(e["suite"], e["task"]) for e in summary["excluded"]}
    return [t for s, t in sorted(pairs) if suite is None or s == suite]


def write_summary_figures(out: pathlib.Path, summary: Mapping[str, Any]) -> list[pathlib.Path]:
    """scores_<suite>.png, performance_profile.png and aggregates.png of one summary."""
    unit = describe_unit(summary)
    paths = []
    for suite in [g for g in summary["groups"] if g != ALL]:
        paths.append(plot_task_intervals(out / f"scores_{suite}.png",
                                         f"{suite}: per-task scores\n95% CI over {unit}",
                                         _tasks_of(summary, suite), {"": summary["tasks"]}))
    profiles = {f"{name} ({g['tasks']} tasks)": g["profile"]
                for name, g in summary["groups"].items() if g["profile"]}
    if profiles:
        paths.append(plot_profiles(out / "performance_profile.png",
                                   f"performance profile\n95% bands over {unit}", profiles))
        paths.append(plot_aggregates(out / "aggregates.png", f"aggregates, 95% CI over {unit}",
                                     {n: g["metrics"] for n, g in summary["groups"].items()}))
    return paths


def write_compare_figures(out: pathlib.Path, summaries: Mapping[str, Mapping[str, Any]]
                          ) -> list[pathlib.Path]:
    """compare_tasks.png, compare_profile.png, compare_aggregates.png: the runs side by side."""
    tasks = sorted({t for s in summaries.values() for t in _tasks_of(s)},
                   key=lambda t: min(_order(s, t) for s in summaries.values()))
    units = {label: describe_unit(s) for label, s in summaries.items()}
    units_text = (f"over {next(iter(units.values()))}" if len(set(units.values())) == 1 else
                  "\n".join(f"{label}: over {unit}" for label, unit in units.items()))
    paths = [plot_task_intervals(out / "compare_tasks.png",
                                 f"per-task scores, 95% CI {units_text}",
                                 tasks, {label: s["tasks"] for label, s in summaries.items()})]
    profiles = {label: s["groups"][ALL]["profile"] for label, s in summaries.items()
                if s["groups"][ALL]["profile"]}
    if profiles:
        paths.append(plot_profiles(out / "compare_profile.png",
                                   "performance profiles over all compared tasks, 95% bands",
                                   profiles))
        paths.append(plot_aggregates(out / "compare_aggregates.png",
                                     "aggregates over all compared tasks, 95% CI",
                                     {label: s["groups"][ALL]["metrics"]
                                      for label, s in summaries.items()}))
    return paths


def _order(summary: Mapping[str, Any], task: str) -> tuple[str, str]:
    """(suite, task) sort key of `task` in `summary` (tasks it lacks sort last)."""
    if task in summary["tasks"]:
        return summary["tasks"][task]["suite"], task
    suites = [e["suite"] for e in summary["excluded"] if e["task"] == task]
    return (suites[0], task) if suites else ("~", task)
