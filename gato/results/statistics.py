"""Aggregate scores with uncertainty: IQM, mean, median, optimality gap, performance profiles and
the probability of improvement, each with a 95% stratified-bootstrap interval (Agarwal et al.
2021, "Deep RL at the Edge of the Statistical Precipice"), computed by the `rliable` package.

Scores are expert-normalized (`gato.results.scoring`). They are arranged as a matrix [N, T], one
column per task and one row per sample:
- several runs (e.g. seeds of one config): one row per run, a cell is the run's mean normalized
  score over its episodes of the task (rliable's layout); the interval covers seed variation;
- one run: one row per episode, a cell is that episode's normalized return; the interval covers
  episode-to-episode variation only, not what another seed would score.
The stratified bootstrap resamples rows within each task (rliable's `StratifiedBootstrap`,
percentile intervals, a fixed seed). Runs are ordered by label and tasks by (suite, name), so
results do not depend on the order runs are given in. A task enters the aggregate only when
every run scored it in every episode; otherwise it is listed in "excluded" with the reason (a
failed environment, no reference score, not evaluated) and the aggregate says how many tasks it
covers.
"""

import dataclasses
import logging
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from gato.envs.scores import normalize
from gato.results.scoring import THRESHOLDS

CONFIDENCE = 0.95  # coverage of the bootstrap intervals
BOOTSTRAP_SEED = 0  # the intervals are reproducible: the same scores give the same bounds
METRIC_NAMES = ("iqm", "mean", "median", "optimality_gap")
ALL = "all"  # the group of every included task


def rliable_modules():
    """(rliable.library, rliable.metrics), imported on first use (arch and pandas take ~2 s)."""
    from rliable import library, metrics

    return library, metrics


def aggregate_metrics(scores: np.ndarray) -> np.ndarray:
    """[IQM, mean, median, optimality gap] of a score matrix [N, T] (rliable.metrics)."""
    _, metrics = rliable_modules()
    return np.array([metrics.aggregate_iqm(scores), metrics.aggregate_mean(scores),
                     metrics.aggregate_median(scores), metrics.aggregate_optimality_gap(scores)])


def interval_estimates(data: np.ndarray | tuple[np.ndarray, np.ndarray],
                       func: Callable[..., Any], reps: int) -> tuple[np.ndarray, np.ndarray]:
    """(point estimate, [2, ...] lower and upper bounds) of func(data) by rliable's stratified
    bootstrap; `data` is a score matrix [N, T] or a pair of them (runs resampled independently)."""
    library, _ = rliable_modules()
    absl_logger = logging.getLogger("absl")  # rliable logs every call at INFO
    level = absl_logger.level
    absl_logger.setLevel(max(level, logging.WARNING))
    # rliable's StratifiedBootstrap draws its resamples from NumPy's global generator
    # (np.random.choice), not from `random_state`: seed it for this call and restore it after
    global_state = np.random.get_state()
    np.random.seed(BOOTSTRAP_SEED)
    try:
        with warnings.catch_warnings():  # arch deprecates the RandomState rliable passes on
            warnings.filterwarnings("ignore", "random_state is deprecated", FutureWarning)
            point, interval = library.get_interval_estimates(
                {"x": data}, func, reps=int(reps), confidence_interval_size=CONFIDENCE,
                random_state=np.random.RandomState(BOOTSTRAP_SEED))
    finally:
        np.random.set_state(global_state)
        absl_logger.setLevel(level)
    return np.asarray(point["x"], np.float64), np.asarray(interval["x"], np.float64)


def _estimate(value: float, interval: np.ndarray) -> dict[str, Any]:
    return {"value": float(value), "ci": [float(interval[0]), float(interval[1])]}


def aggregates(scores: np.ndarray, reps: int) -> dict[str, dict]:
    """{metric: {"value", "ci": [lo, hi]}} for METRIC_NAMES over a score matrix [N, T]."""
    point, interval = interval_estimates(scores, aggregate_metrics, reps)
    return {name: _estimate(point[i], interval[:, i]) for i, name in enumerate(METRIC_NAMES)}


def performance_profile(scores: np.ndarray, reps: int,
                        thresholds: Sequence[float] = THRESHOLDS) -> dict[str, list[float]]:
    """Fraction of the (row, task) scores above each threshold, with its band (rliable's score
    distribution, `library.score_distributions`, computed for all thresholds at once instead of
    one np.vectorize call per threshold; Gato's Figure 5 counts tasks instead)."""
    taus = np.asarray(thresholds, np.float64)
    point, interval = interval_estimates(
        scores, lambda s: np.mean(s[..., None] > taus, axis=tuple(range(s.ndim))), reps)
    return {"thresholds": taus.tolist(), "fraction": point.tolist(),
            "ci_low": interval[0].tolist(), "ci_high": interval[1].tolist()}


def probability_of_improvement(x: np.ndarray, y: np.ndarray, reps: int) -> dict[str, Any]:
    """P(X > Y) averaged over tasks (rliable.metrics.probability_of_improvement: a Mann-Whitney
    statistic per task) with its interval; x [Nx, T] and y [Ny, T] share the task columns."""
    _, metrics = rliable_modules()
    point, interval = interval_estimates((x, y), metrics.probability_of_improvement, reps)
    return _estimate(float(point), interval.reshape(2))


# ---------------------------------------------------------------- score matrices from results


def _cell(row: dict, episodes: Sequence[dict]) -> dict:
    """One run's scores of one task: {"mean", "episodes", "reason"}; reason None when usable."""
    n, errors = int(row.get("episodes", len(episodes))), int(row.get("errors", 0))
    cell = {"mean": row.get("expert_normalized"), "episodes": None, "reason": None}
    if errors:
        cell["reason"] = f"{errors} of {n} episodes failed"
    elif cell["mean"] is None:
        cell["reason"] = "no expert-normalized score (no reference returns, or not normalized)"
    elif row.get("reference") is None:
        cell["reason"] = "results lack the reference returns of their episodes"
    else:
        ref = row["reference"]
        cell["episodes"] = [normalize(e["return"], ref["random_mean"], ref["expert_mean"])
                            for e in sorted(episodes, key=lambda e: e["seed"])]
    return cell


def run_cells(results: Mapping[str, Any]) -> dict[tuple[str, str], dict]:
    """{(suite, task): cell} of one evaluation's results (as written to results.json)."""
    episodes = results.get("episodes") or {}
    return {(row["suite"], row["task"]): _cell(row, episodes.get(row["task"], []))
            for row in results["tasks"]}


@dataclasses.dataclass
class ScoreMatrix:
    """Normalized scores [N, T] of the included tasks, and what was left out."""

    unit: str  # "run" (a row per run) or "episode" (a row per episode of every run)
    runs: list[str]  # run labels, sorted
    tasks: list[tuple[str, str]]  # (suite, task) of each column, sorted
    scores: np.ndarray  # float64 [N, T]
    excluded: list[dict]  # {"suite", "task", "run", "reason"}
    protocol: dict | None  # the runs' evaluation protocol (results["protocol"])

    def select(self, keep: Sequence[tuple[str, str]], reason: str) -> "ScoreMatrix":
        """The columns of `keep` only; the others are excluded with `reason`."""
        columns = [j for j, key in enumerate(self.tasks) if key in set(keep)]
        dropped = [{"suite": s, "task": t, "run": "all runs", "reason": reason}
                   for j, (s, t) in enumerate(self.tasks) if j not in columns]
        return dataclasses.replace(self, tasks=[self.tasks[j] for j in columns],
                                   scores=self.scores[:, columns],
                                   excluded=self.excluded + dropped)

    @property
    def all_tasks(self) -> list[tuple[str, str]]:
        """Included and excluded (suite, task) pairs, sorted."""
        return sorted(set(self.tasks) | {(e["suite"], e["task"]) for e in self.excluded})


def _environment_key(protocol: Mapping[str, Any] | None) -> tuple | None:
    if protocol is None:
        return None
    return tuple(protocol.get(k) for k in ("max_episode_steps", "frame_skip", "sticky_actions",
                                           "noop_max"))


def check_same_protocol(runs: Mapping[str, Mapping[str, Any]]) -> None:
    """Raises ValueError (one line) when the runs were evaluated under different environment
    settings: their scores are not comparable."""
    keys = {label: _environment_key(r.get("protocol")) for label, r in runs.items()}
    if len(set(keys.values())) > 1:
        labels = {label: (r.get("protocol") or {}).get("label") for label, r in runs.items()}
        raise ValueError(f"runs were evaluated under different protocols, their scores are not "
                         f"comparable: {labels}")


def score_matrix(runs: Mapping[str, Mapping[str, Any]], unit: str | None = None
                 ) -> ScoreMatrix:
    """The score matrix of runs' results {label: results}; unit "run" (default with several
    runs) or "episode" (default with one); see the module docstring."""
    if not runs:
        raise ValueError("no runs to aggregate")
    check_same_protocol(runs)
    labels = sorted(runs)
    unit = unit or ("run" if len(labels) > 1 else "episode")
    if unit not in ("run", "episode"):
        raise ValueError(f"unit must be 'run' or 'episode', got {unit!r}")
    cells = {label: run_cells(runs[label]) for label in labels}
    columns, included, excluded = [], [], []
    for key in sorted({key for c in cells.values() for key in c}):
        problems = [(label, "not evaluated") if key not in cells[label] else
                    (label, cells[label][key]["reason"]) for label in labels]
        problems = [(label, reason) for label, reason in problems if reason]
        if problems:
            excluded += [{"suite": key[0], "task": key[1], "run": label, "reason": reason}
                         for label, reason in problems]
            continue
        included.append(key)
        columns.append([cells[label][key]["mean"] for label in labels] if unit == "run" else
                       [v for label in labels for v in cells[label][key]["episodes"]])
    if len({len(c) for c in columns}) > 1:
        counts = {k[1]: len(c) for k, c in zip(included, columns, strict=True)}
        raise ValueError(f"tasks have different numbers of episodes {counts}; evaluate every "
                         "task of every run under one protocol")
    scores = np.asarray(columns, np.float64).T if columns else np.zeros((len(labels), 0))
    protocol = runs[labels[0]].get("protocol")
    return ScoreMatrix(unit, labels, included, scores, excluded, protocol)


def _group_summary(scores: np.ndarray, reps: int, total: int) -> dict:
    out = {"tasks": int(scores.shape[1]), "total_tasks": total, "metrics": None, "profile": None}
    if scores.shape[1]:
        out["metrics"] = aggregates(scores, reps)
        out["profile"] = performance_profile(scores, reps)
    return out


def summarize_matrix(matrix: ScoreMatrix, reps: int) -> dict:
    """Aggregates with intervals per suite and over all tasks, per-task means with intervals,
    and the exclusions, of a score matrix."""
    suites = sorted({s for s, _ in matrix.all_tasks})
    groups = {}
    for suite in [*suites, ALL]:
        columns = [j for j, (s, _) in enumerate(matrix.tasks) if suite in (s, ALL)]
        total = len([1 for s, _ in matrix.all_tasks if suite in (s, ALL)])
        groups[suite] = _group_summary(matrix.scores[:, columns], reps, total)
    _, metrics = rliable_modules()
    tasks = {}
    for j, (suite, task) in enumerate(matrix.tasks):
        point, interval = interval_estimates(matrix.scores[:, [j]], metrics.aggregate_mean, reps)
        tasks[task] = {"suite": suite, **_estimate(float(point), interval.reshape(2))}
    return {"unit": matrix.unit, "runs": matrix.runs, "samples": int(matrix.scores.shape[0]),
            "confidence": CONFIDENCE, "bootstrap_reps": int(reps),
            "method": "rliable stratified bootstrap, percentile intervals",
            "protocol": matrix.protocol, "groups": groups, "tasks": tasks,
            "excluded": matrix.excluded}


def summarize(runs: Mapping[str, Mapping[str, Any]], reps: int, unit: str | None = None
              ) -> dict:
    """summarize_matrix of the runs' results {label: results} (one entry for a single run),
    with the success rates of the tasks that report success ("success", or None)."""
    matrix = score_matrix(runs, unit)
    return summarize_matrix(matrix, reps) | {"success": success_summary(runs, reps, matrix.unit)}


def _success_flags(results: Mapping[str, Any]) -> dict[tuple[str, str], list[float]]:
    """{(suite, task): 0/1 per episode in seed order} of the tasks whose every episode reports
    success."""
    episodes = results.get("episodes") or {}
    out = {}
    for row in results["tasks"]:
        flags = [e.get("success") for e in sorted(episodes.get(row["task"], []),
                                                  key=lambda e: e["seed"])]
        if flags and all(f is not None for f in flags):
            out[(row["suite"], row["task"])] = [float(bool(f)) for f in flags]
    return out


def success_summary(runs: Mapping[str, Mapping[str, Any]], reps: int, unit: str) -> dict | None:
    """Success rate per suite and overall (mean and IQM over tasks, 95% stratified-bootstrap
    intervals, rows as in the score matrix: runs or episodes) and per task; None when no task
    reports success."""
    labels = sorted(runs)
    flags = {label: _success_flags(runs[label]) for label in labels}
    keys = sorted(k for k in set().union(*flags.values()) if all(k in flags[x] for x in labels))
    columns = [[float(np.mean(flags[x][k])) for x in labels] if unit == "run" else
               [v for x in labels for v in flags[x][k]] for k in keys]
    if not keys or len({len(c) for c in columns}) > 1:
        return None
    scores = np.asarray(columns, np.float64).T
    _, metrics = rliable_modules()
    groups = {}
    for suite in [*sorted({s for s, _ in keys}), ALL]:
        cols = [j for j, (s, _) in enumerate(keys) if suite in (s, ALL)]
        groups[suite] = {"tasks": len(cols)} | {
            name: _estimate(float(p), i.reshape(2)) for name, (p, i) in (
                ("mean", interval_estimates(scores[:, cols], metrics.aggregate_mean, reps)),
                ("iqm", interval_estimates(scores[:, cols], metrics.aggregate_iqm, reps)))}
    tasks = {}
    for j, (suite, task) in enumerate(keys):
        point, interval = interval_estimates(scores[:, [j]], metrics.aggregate_mean, reps)
        tasks[task] = {"suite": suite, **_estimate(float(point), interval.reshape(2))}
    return {"groups": groups, "tasks": tasks}


# ---------------------------------------------------------------- text


def format_estimate(estimate: Mapping[str, Any] | None, digits: int = 3,
                    missing: str = "-") -> str:
    """E.g. "0.512 [0.401, 0.623]": the value and its 95% interval ("ci"); `missing` when there
    is none."""
    if not estimate or estimate.get("value") is None or not math.isfinite(estimate["value"]):
        return missing
    lo, hi = estimate["ci"]
    return f"{estimate['value']:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


def describe_unit(summary: Mapping[str, Any]) -> str:
    """E.g. "3 runs per task" or "5 episodes of 1 run per task, no seed variance"."""
    runs = len(summary["runs"])
    if summary["unit"] == "run":
        return f"{runs} runs per task"
    if runs == 1:
        return f"{summary['samples']} episodes of 1 run per task, no seed variance"
    return f"{summary['samples']} episodes of {runs} runs per task (pooled)"


def format_summary(summary: Mapping[str, Any], title: str = "aggregate") -> str:
    """A plain-text table: per suite and overall, each metric with its interval, and the
    exclusions."""
    cols = ("group", "tasks", *METRIC_NAMES)
    body = []
    for name, group in summary["groups"].items():
        metrics = group["metrics"] or {}
        body.append([name, f"{group['tasks']}/{group['total_tasks']}",
                     *(format_estimate(metrics.get(m)) for m in METRIC_NAMES)])
    widths = [max(len(c), *(len(line[i]) for line in body)) for i, c in enumerate(cols)]
    protocol = (summary.get("protocol") or {}).get("label", "?")
    lines = [f"== {title}: expert-normalized, {int(100 * summary['confidence'])}% stratified-"
             f"bootstrap intervals over {describe_unit(summary)}, protocol {protocol} =="]
    lines += ["  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip()
              for line in [list(cols), *body]]
    for e in summary["excluded"]:
        lines.append(f"excluded from the aggregate: {e['task']} ({e['run']}: {e['reason']})")
    for name, group in ((summary.get("success") or {}).get("groups") or {}).items():
        lines.append(f"success rate, {name} ({group['tasks']} tasks): mean "
                     f"{format_estimate(group['mean'])}, IQM {format_estimate(group['iqm'])}")
    return "\n".join(lines)


def scalar_metrics(summary: Mapping[str, Any]) -> dict[str, float]:
    """eval/<group>/<metric> and eval/<group>/<metric>_ci_low / _ci_high (TensorBoard)."""
    out = {}
    for name, group in summary["groups"].items():
        for metric, estimate in (group["metrics"] or {}).items():
            out[f"eval/{name}/{metric}"] = estimate["value"]
            out[f"eval/{name}/{metric}_ci_low"] = estimate["ci"][0]
            out[f"eval/{name}/{metric}_ci_high"] = estimate["ci"][1]
    return out
