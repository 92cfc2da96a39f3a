"""`gato return-study`: can a sequence model trained on all the data, asked for a high return,
beat its data? Three arms on the same mixed-quality data, and a sweep of requested returns.

    gato return-study [--config return_conditioned[:variant] | path.py[:variant]]
                      [--workdir runs/rc] [--set KEY=VALUE ...]

1. mixed-quality data per task (config.generate: behaviour mixes, `gato generate --behaviours`)
   in WORKDIR/data, with manifests (`gato data describe WORKDIR/data`);
2. three arms, the same model, steps and seed (WORKDIR/<arm>/): "bc" (behaviour cloning on all
   episodes), "filtered" (%BC: each task's top study.top_fraction of episodes by return) and
   "returns" (return-to-go tokens, `gato.tokenizers.returns`);
3. each arm evaluated over config.eval.episodes per task, "returns" asking for study.target;
   then the "returns" arm at every requested return of study.sweep (WORKDIR/returns/eval/...);
4. a table per task (data mean return, data's best policy's mean return, each arm's mean return
   and expert-normalized score with bootstrap intervals) in WORKDIR/study.md and study.json, and
   achieved against requested return in WORKDIR/sweep.png.
Every step resumes: data and checkpoints are reused, evaluations with results.json are not rerun.
"""

import argparse
import json
import math
import pathlib
import time
from typing import Any

import ml_collections
import numpy as np

from gato.rundir import RunDir
from gato.workflows import common

DEFAULT_CONFIG = "return_conditioned"
ARMS = ("bc", "filtered", "returns")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    common.add_run_arguments(parser, config=DEFAULT_CONFIG, workdir="runs/rc")


def check_study(config: ml_collections.ConfigDict) -> None:
    """Raises ConfigError (one line) for a config the study cannot run, before any work: the
    behaviour mixes and requested returns (the keys' own rules are checked at start-up)."""
    from gato.data.recording.behaviours import parse_behaviours
    from gato.envs import registry
    from gato.errors import ConfigError
    from gato.eval.returns import parse_return_target

    s = config.study
    try:
        for target in [s.target, *s.sweep.split(",")]:
            if target.strip():
                parse_return_target(target)
        tasks = [t.name for t in registry.select(None, config.generate.tasks)]
        for task in tasks:
            parse_behaviours(config.generate.behaviours[task])
    except (KeyError, ValueError) as e:
        raise ConfigError(f"config section study / generate: {e}") from e


def arm_config(config: ml_collections.ConfigDict, arm: str) -> ml_collections.ConfigDict:
    """The study's config for one arm: "bc" as is, "filtered" keeps the top episodes,
    "returns" adds return tokens to model and data."""
    if arm not in ARMS:
        raise ValueError(f"study arm {arm!r} not in {ARMS}")
    c = ml_collections.ConfigDict(config.to_dict())
    c.model.overrides.return_tokens = arm == "returns"
    c.data.returns.enabled = arm == "returns"
    c.data.filter.top_fraction = float(config.study.top_fraction) if arm == "filtered" else 1.0
    return c


def generate(config: ml_collections.ConfigDict, data_dir: pathlib.Path) -> dict[str, dict]:
    """The mixed datasets of config.generate (resumable); returns their manifests by task."""
    from gato.data import formats
    from gato.data.formats.manifest import format_manifest, manifest_of

    manifests = {}
    for task in common.record(config, data_dir):
        manifests[task] = manifest_of(formats.load_episodes(task, data_dir))
        print(format_manifest(manifests[task]), flush=True)
    return manifests


def evaluate(config: ml_collections.ConfigDict, arm_dir: pathlib.Path, target: str,
             episodes: int, name: str) -> dict[str, Any]:
    """The results (as results.json) of the arm's final checkpoint asking for `target`, in
    ARM/eval/NAME/; a finished evaluation with the same eval config is reused."""
    return common.evaluate(config, arm_dir, out=RunDir(arm_dir).eval_root / name,
                           return_target=target, episodes=int(episodes))


def report(config: ml_collections.ConfigDict, workdir: pathlib.Path, manifests: dict,
           arms: dict[str, dict], sweep: dict[str, list]) -> dict[str, Any]:
    """Writes study.json, study.md and sweep.png; returns the summary."""
    from gato.results import return_report, statistics

    reps = int(config.eval.bootstrap_reps)
    rows = return_report.task_rows(manifests, arms, reps)
    summary = return_report.aggregate_arms(rows, arms, reps)
    labels = {a: (f"{a} ({config.study.target})" if a == "returns" else a) for a in arms}
    table = return_report.format_table(rows, list(arms), labels, summary)
    lines = [f"# Return study ({workdir})", "",
             "Mean return [95% stratified-bootstrap interval] (expert-normalized [interval]) "
             f"over {config.eval.episodes} episodes per task and arm.", "", table, ""]
    for arm in arms:
        better = ", ".join(f"P({arm} > {other}) {statistics.format_estimate(p)}"
                           for other, p in summary[arm]["p_better_than"].items())
        lines.append(f"- {arm}: above the data's mean return on {summary[arm]['above_data_mean']}"
                     f", above its best policy's on {summary[arm]['above_best_policy']}"
                     + (f"; {better}" if better else ""))
    trends: dict[str, dict] = {}
    if sweep:
        lines += ["", "Sweep of the requested return (returns arm, "
                  f"{config.study.sweep_episodes} episodes each): requested -> achieved mean", ""]
        for task in sorted(sweep):
            cells = []
            for e in sweep[task]:
                asked = "drawn" if e["requested"] is None else f"{e['requested']:.1f}"
                mean = float(np.mean(e["returns"])) if e["returns"] else math.nan
                cells.append(f"{e['target']} ({asked}) -> {mean:.1f}")
            lines.append(f"- {task}: " + "; ".join(cells))
            if task in manifests:
                r = manifests[task]["returns"]
                trends[task] = trend = return_report.sweep_trend(sweep[task], r["min"], r["max"])
                lines.append(f"  within the data's range [{r['min']:.1f}, {r['max']:.1f}]: "
                             f"means {'never fall' if trend['monotone'] else 'fall somewhere'}"
                             f", Spearman rho {trend['spearman']:.2f} over "
                             f"{len(trend['targets'])} requests")
        return_report.plot_sweep(workdir / "sweep.png", sweep, manifests, reps)
    text = "\n".join(lines) + "\n"
    (workdir / "study.md").write_text(text)
    (workdir / "study.json").write_text(json.dumps(
        {"rows": rows, "summary": summary, "sweep": sweep, "sweep_trends": trends,
         "config": config.to_dict()},
        indent=1, default=str) + "\n")
    print(text, flush=True)
    return summary


def run_study(config: ml_collections.ConfigDict, workdir: pathlib.Path) -> dict[str, Any]:
    """Steps 1-4 of the module docstring; returns the summary of the table."""
    from gato.train import train_and_evaluate

    started = time.perf_counter()
    data_dir = common.data_dir(config, workdir)
    arms = [a.strip() for a in config.study.arms.split(",") if a.strip()]
    common.banner(f"1/4 mixed-quality data -> {data_dir}")
    manifests = generate(config, data_dir)
    for i, arm in enumerate(arms):
        common.banner(f"2/4 arm {i + 1}/{len(arms)} {arm}: {config.train.total_steps} steps -> "
                f"{workdir / arm}")
        final = train_and_evaluate(arm_config(config, arm), workdir / arm)
        print({k: round(float(v), 4) for k, v in final.items() if k.startswith("train/loss")})
    common.banner("3/4 evaluation")
    results = {}
    for arm in arms:
        target = str(config.study.target) if arm == "returns" else "none"
        results[arm] = evaluate(config, workdir / arm, target, int(config.eval.episodes),
                                f"main_{target}")
    sweep: dict[str, list] = {}
    if "returns" in arms:
        from gato.results.return_report import episode_returns

        for target in [t.strip() for t in config.study.sweep.split(",") if t.strip()]:
            print(f"sweep: asking for {target}", flush=True)
            done = evaluate(config, workdir / "returns", target,
                            int(config.study.sweep_episodes), f"sweep_{target}")
            for row in done["tasks"]:
                sweep.setdefault(row["task"], []).append(
                    {"target": target, "requested": row.get("requested_return"),
                     "returns": episode_returns(done, row["task"])})
    common.banner("4/4 report")
    summary = report(config, workdir, manifests, results, sweep)
    print(f"done in {(time.perf_counter() - started) / 60:.1f} min; everything is in {workdir}")
    return summary


def run(args: argparse.Namespace) -> int:
    return common.run_command(args, check_study, run_study)
