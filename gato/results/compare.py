"""`gato compare`: two runs (or two sets of runs) side by side, with the probability of improvement.

    gato compare runs/a/train/eval/step_4000 runs/b/train/eval/step_4000 --out runs/compare
    gato compare runs/sweep_a/aggregate runs/sweep_b/aggregate --labels base,masked
    gato compare A0/results.json,A1/results.json B/aggregate.json

Each side is a results.json (`gato eval`), an aggregate.json (`gato eval` with several
checkpoints, `gato sweep`), a directory holding one, or a comma-separated list of those. Both
sides must have been evaluated under the same protocol settings (else: a one-line error). Rows of
the score matrices: with several runs on both sides, one per run (a run's mean over its
episodes); otherwise one per episode (episode noise only). Only tasks scored on both sides are
compared; the others are listed.

Prints, per task, both sides' mean expert-normalized scores and B - A with its 95% interval, and
over all compared tasks P(A > B), the probability that a run (or episode) of A scores above one
of B on a random task (Agarwal et al. 2021; rliable), with its interval, and both sides'
aggregates. Writes compare.json and compare_{tasks,profile,aggregates}.png to --out.
"""

import argparse
import logging
import pathlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from gato.results import statistics


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_a", help="results.json / aggregate.json / a directory, or a "
                                      "comma-separated list of them")
    parser.add_argument("run_b", help="the same, for the other side")
    parser.add_argument("--labels", default="A,B", help="names of the two sides (default A,B)")
    parser.add_argument("--out", default="runs/compare", help="compare.json and figures")
    parser.add_argument("--reps", type=int, default=5000, help="bootstrap replications")


def load_side(spec: str) -> dict[str, dict]:
    """{label: results} of every path in the comma-separated `spec`
    (gato.results.runs.load_runs)."""
    from gato.results.runs import load_runs

    runs: dict[str, dict] = {}
    for part in [p.strip() for p in spec.split(",") if p.strip()]:
        for label, results in load_runs(part).items():
            if label in runs:
                raise ValueError(f"run {label} appears twice in {spec!r}")
            runs[label] = results
    if not runs:
        raise ValueError(f"no runs in {spec!r}")
    return runs


def _difference(a: np.ndarray, b: np.ndarray) -> float:
    """Mean of B minus mean of A (one task's score columns)."""
    return float(np.mean(b) - np.mean(a))


def compare(runs_a: Mapping[str, Mapping[str, Any]], runs_b: Mapping[str, Mapping[str, Any]],
            reps: int, labels: Sequence[str] = ("A", "B")) -> dict:
    """Per-task differences, P(A > B) over the tasks both sides scored, and each side's summary
    (gato.results.statistics) restricted to those tasks."""
    la, lb = labels
    statistics.check_same_protocol({**{f"{la}: {k}": v for k, v in runs_a.items()},
                                    **{f"{lb}: {k}": v for k, v in runs_b.items()}})
    unit = "run" if len(runs_a) > 1 and len(runs_b) > 1 else "episode"
    ma, mb = statistics.score_matrix(runs_a, unit), statistics.score_matrix(runs_b, unit)
    common = sorted(set(ma.tasks) & set(mb.tasks))
    ma, mb = ma.select(common, f"not scored in {lb}"), mb.select(common, f"not scored in {la}")
    _, metrics = statistics.rliable_modules()
    tasks = []
    for j, (suite, task) in enumerate(common):
        x, y = ma.scores[:, [j]], mb.scores[:, [j]]
        point, interval = statistics.interval_estimates((x, y), _difference, reps)
        tasks.append({"suite": suite, "task": task, "a": float(x.mean()), "b": float(y.mean()),
                      "difference": {"value": float(point), "ci": interval.reshape(2).tolist()},
                      "p_a_better": float(metrics.probability_of_improvement(x, y))})
    p_a = statistics.probability_of_improvement(ma.scores, mb.scores, reps) if common else None
    return {"labels": [la, lb], "unit": unit, "protocol": ma.protocol, "tasks": tasks,
            "probability_a_better": p_a, "bootstrap_reps": int(reps),
            "summaries": {la: statistics.summarize_matrix(ma, reps),
                          lb: statistics.summarize_matrix(mb, reps)}}


def format_compare(result: Mapping[str, Any]) -> str:
    """Plain-text report of `compare`: the per-task table, P(A > B) and the aggregates."""
    la, lb = result["labels"]
    sa, sb = result["summaries"][la], result["summaries"][lb]
    protocol = (result.get("protocol") or {}).get("label", "?")
    lines = [f"== compare {la} vs {lb}: expert-normalized, 95% intervals; {la}: "
             f"{statistics.describe_unit(sa)}; {lb}: {statistics.describe_unit(sb)}; protocol "
             f"{protocol} =="]
    cols = ("task", "suite", la, lb, f"{lb} - {la} [95% CI]", f"P({la} > {lb})")
    body = [[t["task"], t["suite"], f"{t['a']:.3f}", f"{t['b']:.3f}",
             statistics.format_estimate(t["difference"]), f"{t['p_a_better']:.2f}"]
            for t in result["tasks"]]
    widths = [max(len(c), *(len(line[i]) for line in body)) for i, c in enumerate(cols)]
    lines += ["  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip()
              for line in [list(cols), *body]]
    p = result["probability_a_better"]
    if p is None:
        lines.append("no task was scored on both sides: nothing to compare")
    else:
        flipped = {"value": 1 - p["value"], "ci": [1 - p["ci"][1], 1 - p["ci"][0]]}
        lines.append(f"P({la} > {lb}) = {statistics.format_estimate(p)}, P({lb} > {la}) = "
                     f"{statistics.format_estimate(flipped)} over {len(result['tasks'])} tasks")
        for metric in statistics.METRIC_NAMES:
            a, b = (statistics.format_estimate((s["groups"][statistics.ALL]["metrics"] or {})
                                               .get(metric)) for s in (sa, sb))
            lines.append(f"{metric:15s} {la}: {a:24s} {lb}: {b}")
    for label, summary in ((la, sa), (lb, sb)):
        for e in summary["excluded"]:
            lines.append(f"not compared: {e['task']} ({label}, {e['run']}: {e['reason']})")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from gato.results import figures, report

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    labels = [s.strip() for s in args.labels.split(",")]
    if len(labels) != 2 or labels[0] == labels[1] or not all(labels):
        raise ValueError(f"--labels needs two different names, got {args.labels!r}")
    runs_a, runs_b = load_side(args.run_a), load_side(args.run_b)
    result = compare(runs_a, runs_b, args.reps, labels)
    print(f"{labels[0]} = {args.run_a}\n{labels[1]} = {args.run_b}")
    print(format_compare(result))
    out = pathlib.Path(args.out)
    report.write_json(out / "compare.json", {**result, "sources": {labels[0]: args.run_a,
                                                                   labels[1]: args.run_b}})
    paths = figures.write_compare_figures(out, result["summaries"])
    print(f"written to {out}: compare.json, " + ", ".join(p.name for p in paths))
    return 0
