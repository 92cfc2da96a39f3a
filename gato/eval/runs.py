"""Several runs (e.g. seeds of one config): evaluate each checkpoint, then aggregate them.

    results = evaluate_checkpoint("runs/sweep/seed_0", config_for)   # one run, as `gato eval`
    summary = aggregate({label: results, ...}, out_dir, reps=5000)    # runs x tasks

Each run's outputs go where `gato eval` puts them (WORKDIR/eval/step_N); the aggregate goes to
`out_dir`:
    aggregate.json   {"summary": gato.eval.statistics summary, "runs": {label: {"checkpoint",
                      "step", "protocol", "tasks", "episodes"}}}: self-contained, so
                      `gato compare` reads it without the runs' directories
    scores_<suite>.png, performance_profile.png, aggregates.png (gato.eval.figures)
"""

import json
import pathlib
from collections.abc import Callable, Mapping
from typing import Any

import ml_collections

from gato.eval import figures, report, statistics
from gato.rundir import RESULTS_JSON, RunDir

RUN_KEYS = ("checkpoint", "step", "protocol", "tasks", "episodes", "eval_config")


def _same_config(saved: Mapping[str, Any], config: ml_collections.ConfigDict) -> bool:
    """Whether a saved results.json was made with `config` (compared as JSON)."""
    now = json.loads(json.dumps(config.to_dict(), sort_keys=True, default=str))
    return saved.get("eval_config") == now


def evaluate_checkpoint(path: str | pathlib.Path,
                        config_for: Callable[[dict], ml_collections.ConfigDict], *,
                        step: int | None = None, out: pathlib.Path | None = None,
                        reuse: bool = False, replace: bool = True) -> dict:
    """Loads a checkpoint, evaluates it with config_for(run config) and writes its reports;
    returns the results. With `reuse`, a results.json already written with the same eval config
    is returned instead (a resumed sweep does not evaluate twice). With `replace=False`, one
    written with another eval config (another seed, episode count, protocol: e.g. the run's own
    final evaluation) is kept and a ValueError raised before any episode."""
    from gato.eval import checkpoints
    from gato.eval.evaluator import Evaluator, select_tasks
    from gato.model import Gato

    loaded = checkpoints.load_checkpoint(path, step)
    config = config_for(loaded.config)
    done = out / RESULTS_JSON if out else RunDir(loaded.workdir).results(loaded.step)
    saved = json.loads(done.read_text()) if done.is_file() else None
    same = saved is not None and _same_config(saved, config)
    if reuse and same:
        print(f"step {loaded.step} of {loaded.workdir}: already evaluated ({done}), reusing")
        return saved
    if not replace and saved is not None and not same:
        raise ValueError(f"{done.parent} already holds the results of another evaluation of step "
                         f"{loaded.step}; --force replaces them (with one checkpoint, --out DIR "
                         f"keeps both)")
    tasks = select_tasks(config)
    warnings = checkpoints.check_compatible(loaded, tasks)
    evaluator = Evaluator(config, Gato(loaded.model_config), tasks=tasks,
                          workdir=loaded.workdir, out_dir=out,
                          data_config=loaded.config.data)
    evaluator.warnings += warnings
    results = evaluator.evaluate_params(loaded.params, loaded.step,
                                        extra={"checkpoint": str(loaded.path)})
    print(f"step {loaded.step}: results in {evaluator.output_dir(loaded.step)}")
    return results


def run_label(results: Mapping[str, Any]) -> str:
    """A run's label: its checkpoint path (unique per run and step)."""
    return str(results.get("checkpoint") or f"step {results.get('step')}")


def aggregate(runs: Mapping[str, Mapping[str, Any]], out: pathlib.Path, reps: int,
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
