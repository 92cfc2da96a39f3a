"""The return study's report: per-task table, aggregates and the achieved-vs-requested plot.

Inputs are each arm's evaluation results (as `Evaluator.evaluate_params` returns and writes to
results.json: rows, episodes, the aggregate of `gato.results.statistics`) and the dataset manifests
(`gato.data.formats.manifest`: the data's mean return and its best behaviour policy's). Every
interval is a 95% stratified-bootstrap interval by `rliable` (`statistics.interval_estimates`):
of a task's mean return over its episodes, of the expert-normalized IQM and mean over episodes x
tasks, and of the probability that an episode of one arm scores above one of another on a random
task (`statistics.probability_of_improvement`).
"""

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from gato.results import statistics


def mean_interval(values: Sequence[float], reps: int = 5000) -> tuple[float, float, float]:
    """(mean, low, high) of `values` with its bootstrap interval; NaNs when empty."""
    x = np.asarray(values, np.float64)
    if x.size == 0:
        return math.nan, math.nan, math.nan
    point, interval = statistics.interval_estimates(x[:, None], lambda s: np.mean(s), reps)
    return float(point), float(interval.reshape(2)[0]), float(interval.reshape(2)[1])


def best_policy(manifest: Mapping[str, Any]) -> tuple[str, float]:
    """(label, mean return) of the behaviour policy with the highest mean return."""
    means = {label: p["returns"]["mean"] for label, p in manifest["policies"].items()
             if p["returns"]["mean"] is not None}
    label = max(means, key=means.get)
    return label, float(means[label])


def episode_returns(results: Mapping[str, Any], task: str) -> list[float]:
    """The returns of a task's episodes that ran without an environment error."""
    return [e["return"] for e in (results.get("episodes") or {}).get(task, [])
            if e.get("error") is None]


def task_rows(manifests: Mapping[str, Mapping[str, Any]],
              arms: Mapping[str, Mapping[str, Any]], reps: int = 5000) -> list[dict[str, Any]]:
    """One row per task: the data's mean return and best policy's, and per arm its episodes'
    mean return with interval and the expert-normalized mean with interval (None when the
    evaluation did not normalize)."""
    rows = []
    for task in sorted(manifests):
        label, best = best_policy(manifests[task])
        row = {"task": task, "data_mean": manifests[task]["returns"]["mean"],
               "data_best_policy": label, "data_best_mean": best}
        for arm, results in arms.items():
            returns = episode_returns(results, task)
            mean, low, high = mean_interval(returns, reps)
            normalized = ((results.get("aggregate") or {}).get("tasks") or {}).get(task)
            row[arm] = {"episodes": len(returns), "mean": mean, "low": low, "high": high,
                        "normalized": normalized}
        rows.append(row)
    return rows


def aggregate_arms(rows: Sequence[Mapping[str, Any]], arms: Mapping[str, Mapping[str, Any]],
              reps: int = 5000) -> dict[str, Any]:
    """Per arm: expert-normalized IQM and mean over episodes x tasks with intervals (from its
    results' aggregate), the tasks where its mean return beats the data's mean and its best
    policy's, and P(arm > other) for every other arm (episodes as samples)."""
    out = {}
    for arm, results in arms.items():
        metrics = (((results.get("aggregate") or {}).get("groups") or {}).get(statistics.ALL)
                   or {}).get("metrics") or {}
        out[arm] = {"iqm": metrics.get("iqm"), "mean": metrics.get("mean"),
                    "above_data_mean": [r["task"] for r in rows if r[arm]["mean"] > r["data_mean"]],
                    "above_best_policy": [r["task"] for r in rows
                                          if r[arm]["mean"] > r["data_best_mean"]],
                    "p_better_than": {}}
    matrices = {}
    for arm, results in arms.items():
        try:
            matrices[arm] = statistics.score_matrix({arm: results}, "episode")
        except (KeyError, ValueError):  # not normalized, or no scored task
            continue
    for arm, x in matrices.items():
        for other, y in matrices.items():
            common = sorted(set(x.tasks) & set(y.tasks))
            if other == arm or not common or x.scores.shape[0] != y.scores.shape[0]:
                continue
            out[arm]["p_better_than"][other] = statistics.probability_of_improvement(
                x.select(common, "").scores, y.select(common, "").scores, reps)
    return out


def sweep_trend(entries: Sequence[Mapping[str, Any]], low: float, high: float) -> dict[str, Any]:
    """Does the achieved return rise with the requested one within the data's return range
    [low, high]? Over the fixed requests in that range (entries as in `plot_sweep`): the
    requests in order, their mean achieved returns, whether those means never fall, and
    Spearman's rank correlation of request and achieved return over all their episodes (NaN
    with fewer than two distinct requests). Requests above the range are reported apart."""
    from scipy import stats

    inside = sorted((e for e in entries if e["requested"] is not None and e["returns"]
                     and low <= e["requested"] <= high), key=lambda e: e["requested"])
    means = [float(np.mean(e["returns"])) for e in inside]
    asked = np.concatenate([[e["requested"]] * len(e["returns"]) for e in inside] or [[]])
    got = np.concatenate([e["returns"] for e in inside] or [[]])
    rho = (float(stats.spearmanr(asked, got).statistic)
           if len({e["requested"] for e in inside}) > 1 else math.nan)
    return {"targets": [e["target"] for e in inside],
            "requested": [float(e["requested"]) for e in inside], "achieved_means": means,
            "monotone": bool(len(means) > 1 and np.all(np.diff(means) >= 0)),
            "spearman": rho,
            "above_range": {e["target"]: float(np.mean(e["returns"])) for e in entries
                            if e["requested"] is not None and e["returns"]
                            and e["requested"] > high}}


def _cell(entry: Mapping[str, Any]) -> str:
    if entry["episodes"] == 0:
        return "-"
    norm = statistics.format_estimate(entry["normalized"])
    norm = "" if norm == "-" else f" ({norm})"
    return f"{entry['mean']:.1f} [{entry['low']:.1f}, {entry['high']:.1f}]{norm}"


def format_table(rows: Sequence[Mapping[str, Any]], arms: Sequence[str],
                 labels: Mapping[str, str] | None = None,
                 summary: Mapping[str, Any] | None = None) -> str:
    """A markdown table: per task the data's returns and each arm's mean return [interval]
    (expert-normalized [interval]); then the arms' IQM and mean over all tasks."""
    labels = dict(labels or {})
    head = ["task", "data mean", "data best policy (mean)", *(labels.get(a, a) for a in arms)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["task"], f"{r['data_mean']:.1f}",
                 f"{r['data_best_policy']} ({r['data_best_mean']:.1f})",
                 *(_cell(r[arm]) for arm in arms)]
        lines.append("| " + " | ".join(cells) + " |")
    for metric, name in (("iqm", "IQM"), ("mean", "mean")) if summary else ():
        lines.append("| " + " | ".join([f"expert-normalized {name}", "", "", *(
            statistics.format_estimate(summary[a][metric]) for a in arms)]) + " |")
    return "\n".join(lines)


def plot_sweep(path: str | Path, sweep: Mapping[str, Sequence[Mapping[str, Any]]],
               manifests: Mapping[str, Mapping[str, Any]], reps: int = 5000) -> None:
    """Achieved against requested return, one panel per task. sweep: task -> entries
    {"target", "requested" (None for drawn targets), "returns"}; the diagonal, the data's mean
    and its best policy's mean are drawn, drawn targets ("expert", "none") as horizontal lines."""
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
        stats = [mean_interval(e["returns"], reps) for e in fixed]
        x = [e["requested"] for e in fixed]
        y = np.array([s[0] for s in stats])
        err = np.array([[s[0] - s[1] for s in stats], [s[2] - s[0] for s in stats]])
        ax.errorbar(x, y, yerr=err if len(x) else None, marker="o", capsize=3, label="achieved")
        if x:
            ax.plot([min(x), max(x)], [min(x), max(x)], "k:", lw=1, label="asked")
        if task in manifests:
            ax.axhline(manifests[task]["returns"]["mean"], color="gray", ls="--", lw=1,
                       label="data mean")
            ax.axhline(best_policy(manifests[task])[1], color="green", ls="--", lw=1,
                       label="data best policy")
        for e in sweep[task]:
            if e["requested"] is None and e["returns"]:
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
