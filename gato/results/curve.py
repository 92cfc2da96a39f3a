"""`gato curve`: a run's learning curve per task, from what its in-training evaluators wrote.

    gato curve runs/atari/train [--out runs/atari/curve]

Two sources, both in the run's workdir:
- metrics.jsonl: the "offline" evaluators' teacher-forced action metrics,
  {prefix}/{suite}/{task}/{nll,marginal_nll,accuracy,mse}, become the curves "{prefix}/nll",
  ...; in the figure each task's marginal_nll (the state-blind bar) is drawn dashed in the nll
  panel, not as a panel of its own;
- eval/step_N/results.json (the "rollout" evaluator, or `gato eval` of a kept checkpoint): each
  task's expert-normalized mean over its episodes with a 95% bootstrap interval over those
  episodes (rliable, as every eval report), the curve "rollout/normalized", and its mean return,
  "rollout/return".
Prints one table per curve (a row per step, a column per task) and writes curve.json and
curve.png (a panel per curve, a line per task) to --out (default RUN/curve).
"""

import argparse
import json
import math
import pathlib
import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from gato.results import report, statistics
from gato.rundir import RunDir
from gato.train.metrics import read_jsonl

# {prefix}/{suite}/{task}/{metric} as OfflineEvaluator names its metrics
_OFFLINE = re.compile(r"^([^/]+)/([^/]+)/([^/]+)/(nll|marginal_nll|accuracy|mse)$")
ROLLOUT = "rollout/normalized"  # the curve of rollout expert-normalized scores
ROLLOUT_RETURN = "rollout/return"  # the curve of rollout returns
Curves = dict[str, dict[str, list[dict[str, Any]]]]  # curve -> task -> [{"step", "value", ...}]


def offline_curves(records: list[Mapping[str, Any]]) -> Curves:
    """The offline evaluators' curves from metrics.jsonl records ({"step", name: value}); a step
    written twice (a resumed run) keeps its last value."""
    points: dict[str, dict[str, dict[int, float]]] = {}
    for record in records:
        for name, value in record.items():
            match = _OFFLINE.match(name)
            if match and value is not None and math.isfinite(value):
                prefix, _, task, metric = match.groups()
                points.setdefault(f"{prefix}/{metric}", {}).setdefault(task, {})[
                    int(record["step"])] = float(value)
    return {curve: {task: [{"step": s, "value": v} for s, v in sorted(by_step.items())]
                    for task, by_step in sorted(tasks.items())}
            for curve, tasks in sorted(points.items())}


def mean_over_tasks(curves: Curves, curve: str) -> dict[int, float]:
    """{step: mean over the tasks scored at that step} of one curve, e.g. "heldout/nll"."""
    by_step: dict[int, list[float]] = {}
    for points in curves.get(curve, {}).values():
        for p in points:
            by_step.setdefault(p["step"], []).append(p["value"])
    return {step: float(np.mean(values)) for step, values in sorted(by_step.items())}


def _estimate(step: int, scores: list[float], reps: int) -> dict[str, Any]:
    """{"step", "value", "ci", "episodes"}: the mean of `scores` and its bootstrap interval."""
    data = np.asarray(scores, np.float64)[:, None]  # [episodes, 1]
    point, interval = statistics.interval_estimates(data, np.mean, reps)
    low, high = np.asarray(interval, np.float64).reshape(-1)
    return {"step": step, "value": float(point), "ci": [float(low), float(high)],
            "episodes": int(data.shape[0])}


def rollout_curves(results_by_step: Mapping[int, Mapping[str, Any]], reps: int) -> Curves:
    """{ROLLOUT: ..., ROLLOUT_RETURN: ...} from results.json per step: per task, the mean
    expert-normalized score and the mean return over its episodes, each with its interval; a task
    without normalized scores at a step (no reference, failed episodes) gets value None there,
    with the reason."""
    normalized: dict[str, list[dict[str, Any]]] = {}
    returns: dict[str, list[dict[str, Any]]] = {}
    for step in sorted(results_by_step):
        results = results_by_step[step]
        episodes = results.get("episodes") or {}
        for (_, task), cell in sorted(statistics.run_cells(results).items()):
            if cell["reason"] is None:
                normalized.setdefault(task, []).append(_estimate(step, cell["episodes"], reps))
            else:
                normalized.setdefault(task, []).append({"step": step, "value": None,
                                                        "reason": cell["reason"]})
            got = [e["return"] for e in episodes.get(task, [])]
            if got:
                returns.setdefault(task, []).append(_estimate(step, got, reps))
    curves = {ROLLOUT: normalized, ROLLOUT_RETURN: returns}
    return {name: tasks for name, tasks in curves.items() if tasks}


def load_run(run: pathlib.Path) -> tuple[list[dict], dict[int, dict]]:
    """(metrics.jsonl records, {step: results.json}) of a run's workdir."""
    run = RunDir(run)
    records = read_jsonl(run.metrics) if run.metrics.exists() else []
    results = {step: json.loads(run.results(step).read_text()) for step in run.evaluated_steps()}
    return records, results


def _text(point: Mapping[str, Any] | None) -> str:
    if point is None:
        return ""
    if point["value"] is None:
        return "-"
    ci = point.get("ci")
    return f"{point['value']:.3f}" + (f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else "")


def format_curves(curves: Curves) -> str:
    """A fixed-width table per curve: a row per step, a column per task (value [interval])."""
    blocks = []
    for name, tasks in curves.items():
        steps = sorted({p["step"] for points in tasks.values() for p in points})
        cells = {(t, p["step"]): _text(p) for t, points in tasks.items() for p in points}
        width = 2 + max(len(text) for text in [*tasks, *cells.values()])
        lines = [f"== {name} ==", f"{'step':>8}" + "".join(f"{t:>{width}}" for t in tasks)]
        for step in steps:
            lines.append(f"{step:>8}" + "".join(f"{cells.get((t, step), ''):>{width}}"
                                                for t in tasks))
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def plot_curves(path: pathlib.Path, title: str, curves: Curves) -> pathlib.Path:
    """A panel per curve, a line per task against steps (intervals as error bars); a
    "{prefix}/marginal_nll" curve is drawn dashed in its "{prefix}/nll" panel."""
    from gato.results.figures import COLORS, pyplot, save_figure

    bars = {name[:-len("marginal_nll")] + "nll": tasks for name, tasks in curves.items()
            if name.endswith("/marginal_nll")}
    panels = {name: tasks for name, tasks in curves.items() if not name.endswith("/marginal_nll")}
    plt = pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 3.8), squeeze=False)
    for ax, (name, tasks) in zip(axes[0], panels.items(), strict=True):
        for k, (task, points) in enumerate(tasks.items()):
            have = [p for p in points if p["value"] is not None]
            color = COLORS[k % len(COLORS)]
            ax.plot([p["step"] for p in have], [p["value"] for p in have], "o-", ms=3,
                    color=color, label=task)
            if have and "ci" in have[0]:
                ax.errorbar([p["step"] for p in have], [p["value"] for p in have],
                            yerr=[[p["value"] - p["ci"][0] for p in have],
                                  [p["ci"][1] - p["value"] for p in have]],
                            fmt="none", ecolor=color, capsize=3, lw=1)
            bar = bars.get(name, {}).get(task)
            if bar:
                ax.plot([p["step"] for p in bar], [p["value"] for p in bar], "--", lw=1,
                        color=color)
        if name in bars:
            ax.plot([], [], "k--", lw=1, label="state-blind (marginal)")
        ax.set_xlabel("train step")
        ax.set_title(name, fontsize=10)
        ax.legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    return save_figure(fig, path)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", help="a training run's workdir (metrics.jsonl, eval/step_N/)")
    parser.add_argument("--out", help="curve.json and curve.png (default: RUN/curve)")
    parser.add_argument("--reps", type=int, default=5000,
                        help="bootstrap replications of the rollout intervals")


def run(args: argparse.Namespace) -> int:
    run_dir = pathlib.Path(args.run)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"{run_dir} is not a run's workdir")
    records, results = load_run(run_dir)
    curves = offline_curves(records) | rollout_curves(results, args.reps)
    if not curves:
        raise ValueError(f"{run_dir} holds no evaluator metrics (metrics.jsonl) and no "
                         "eval/step_N/results.json: configure an offline or rollout evaluator")
    print(format_curves(curves))
    out = pathlib.Path(args.out) if args.out else run_dir / "curve"
    report.write_json(out / "curve.json", {"run": str(run_dir), "curves": curves})
    plot_curves(out / "curve.png", str(run_dir), curves)
    print(f"\ncurve.json and curve.png in {out}")
    return 0
