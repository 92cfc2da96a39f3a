"""Evaluation outputs: JSON and CSV (per task, per suite), printed tables, GIFs and TensorBoard
scalars (figures: `gato.results.figures`).

Layout under an output directory OUT:
    OUT/results.json        {"step", "checkpoint", "protocol", "eval_config", "tasks": [...],
                             "suites": [...], "aggregate": {...} (gato.results.statistics),
                             "episodes": {task: [{"seed", "return", "length", "error"}, ...]}}
    OUT/tasks.csv, OUT/suites.csv
    OUT/scores_<suite>.png, OUT/performance_profile.png, OUT/aggregates.png (gato.results.figures)
    OUT/gifs/<task>.gif     one rollout per task
"""

import csv
import json
import math
import pathlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from gato.results import statistics

TASK_COLUMNS = ("suite", "task", "episodes", "errors", "mean_return", "std_return", "min_return",
                "max_return", "mean_length", "expert_normalized", "human_normalized",
                "success_rate")
SUITE_COLUMNS = ("suite", "tasks", "scored_tasks", "episodes", "errors", "mean_expert_normalized",
                 "median_expert_normalized", "mean_human_normalized", "tasks_at_50pct",
                 "tasks_at_100pct")


def _clean(value: Any) -> Any:
    """JSON-safe: NaN/inf -> None, numpy scalars -> Python."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json(path: pathlib.Path, results: dict) -> pathlib.Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_clean(results), indent=2, sort_keys=True, default=str))
    return path


def write_csv(path: pathlib.Path, rows: Sequence[dict], columns: Sequence[str]) -> pathlib.Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if v is None else v for k, v in _clean(dict(row)).items()})
    return path


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def format_table(suite: dict, rows: Sequence[dict]) -> str:
    """A plain-text table of one suite's tasks and its summary line."""
    cols = ("task", "episodes", "errors", "mean_return", "std_return", "expert_normalized",
            "human_normalized")
    if any(r.get("success_rate") is not None for r in rows):  # suites that report success
        cols = (*cols, "success_rate")
    body = [[_fmt(r.get(c)) for c in cols] for r in rows]
    body.append(["[suite mean]", _fmt(suite["episodes"]), _fmt(suite["errors"]), "", "",
                 _fmt(suite["mean_expert_normalized"]), _fmt(suite["mean_human_normalized"]),
                 *([_fmt(suite.get("mean_success_rate"))] if "success_rate" in cols else [])])
    widths = [max(len(c), *(len(line[i]) for line in body)) for i, c in enumerate(cols)]
    lines = [f"== suite {suite['suite']}: {suite['scored_tasks']}/{suite['tasks']} tasks scored, "
             f"{suite['tasks_at_50pct']} at >= 50% of expert =="]
    for line in [list(cols), *body]:
        lines.append("  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip())
    return "\n".join(lines)


def write_gif(path: pathlib.Path, frames: Sequence[np.ndarray], fps: int = 20) -> pathlib.Path:
    """Writes uint8 [H, W, 3] frames as a looping GIF; raises ValueError if there are none."""
    import imageio.v2 as imageio

    if not frames:
        raise ValueError(f"no frames to write to {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    imageio.mimsave(path, [np.asarray(f, np.uint8) for f in frames], duration=1000 / fps, loop=0)
    return path


def write_tensorboard(logdir: pathlib.Path, step: int, rows: Sequence[dict],
                      suites: Sequence[dict], summary: dict | None = None) -> None:
    """Scalars eval/<suite>/<task>/{normalized_score,return}, eval/<suite>/mean_... and the
    aggregates with their interval bounds (eval/<suite or all>/iqm, iqm_ci_low, ...) at step."""
    from tensorboardX import SummaryWriter

    writer = SummaryWriter(str(logdir))
    try:
        for name, value in scalar_metrics(rows, suites, summary).items():
            writer.add_scalar(name, value, global_step=int(step))
    finally:
        writer.close()


def scalar_metrics(rows: Sequence[dict], suites: Sequence[dict], summary: dict | None = None
                   ) -> dict[str, float]:
    """Named scalar metrics of an evaluation (finite values only), with the aggregates of a
    `gato.results.statistics.summarize` summary when given."""
    out: dict[str, float] = {}
    for r in rows:
        prefix = f"eval/{r['suite']}/{r['task']}"
        for key, name in (("expert_normalized", "normalized_score"),
                          ("human_normalized", "human_normalized_score"),
                          ("mean_return", "return")):
            if r.get(key) is not None and math.isfinite(r[key]):
                out[f"{prefix}/{name}"] = float(r[key])
    for s in suites:
        for key in ("mean_expert_normalized", "median_expert_normalized"):
            if s.get(key) is not None:
                out[f"eval/{s['suite']}/{key}"] = float(s[key])
    if summary is not None:
        out |= statistics.scalar_metrics(summary)
    return out
