"""Several evaluated runs (e.g. seeds of one config): aggregate them, read them back.

    summary = aggregate_runs({label: results, ...}, out_dir, reps=5000)   # runs x tasks
    runs = load_runs("runs/sweep/aggregate")                             # {label: results}

Each run's results come from `gato.eval.evaluator.evaluate_checkpoint`, where `gato eval` puts
them (WORKDIR/eval/step_N); the aggregate goes to `out_dir`:
    aggregate.json   {"summary": gato.results.statistics summary, "runs": {label: {"checkpoint",
                      "step", "protocol", "tasks", "episodes"}}}: self-contained, so
                      `gato compare` reads it without the runs' directories
    scores_<suite>.png, performance_profile.png, aggregates.png (gato.results.figures)
"""

import json
import pathlib
from collections.abc import Mapping
from typing import Any

from gato.results import figures, report, statistics
from gato.rundir import RESULTS_JSON

RUN_KEYS = ("checkpoint", "step", "protocol", "tasks", "episodes", "eval_config")


def run_label(results: Mapping[str, Any]) -> str:
    """A run's label: its checkpoint path (unique per run and step)."""
    return str(results.get("checkpoint") or f"step {results.get('step')}")


def aggregate_runs(runs: Mapping[str, Mapping[str, Any]], out: pathlib.Path, reps: int,
              title: str = "aggregate") -> dict:
    """Aggregates runs {label: results} over runs x tasks; prints the table, writes
    aggregate.json and the figures under `out`; returns the summary."""
    summary = statistics.summarize(runs, reps)
    print(statistics.format_summary(summary, title))
    report.write_json(out / "aggregate.json", {
        "summary": summary,
        "runs": {label: {k: r.get(k) for k in RUN_KEYS} for label, r in runs.items()}})
    paths = figures.write_summary_figures(out, summary)
    print(f"aggregate of {len(runs)} runs in {out}: aggregate.json, "
          + ", ".join(p.name for p in paths))
    return summary


def load_runs(path: str | pathlib.Path) -> dict[str, dict]:
    """{label: results} from an aggregate.json, a results.json, or a directory holding one
    (aggregate.json first); raises FileNotFoundError naming the path otherwise."""
    path = pathlib.Path(path)
    if path.is_dir():
        found = [path / n for n in ("aggregate.json", RESULTS_JSON) if (path / n).is_file()]
        if not found:
            raise FileNotFoundError(f"no aggregate.json or results.json in {str(path)!r}")
        path = found[0]
    if not path.is_file():
        raise FileNotFoundError(f"no evaluation results at {str(path)!r}")
    data = json.loads(path.read_text())
    if "runs" in data:
        return dict(data["runs"])
    if "tasks" not in data:
        raise ValueError(f"{path} is neither a results.json nor an aggregate.json")
    return {run_label(data): data}
