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
import logging
import math
import os
import pathlib
import time
from typing import Any

import ml_collections
import numpy as np

DEFAULT_CONFIG = "return_conditioned"
ARMS = ("bc", "filtered", "returns")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default=DEFAULT_CONFIG,
                        help="experiment config, path[:variant] (default: %(default)s)")
    parser.add_argument("--workdir", default="runs/rc",
                        help="data, arms, evaluations and the report (default: %(default)s)")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE", help="override a config key")


def _banner(text: str) -> None:
    print(f"\n=== {text} {'=' * max(0, 90 - len(text))}", flush=True)


def check_study(config: ml_collections.ConfigDict) -> None:
    """Raises ConfigError (one line) for a config the study cannot run, before any work: the
    sections every run checks (`validate_config`), then the arms, behaviour mixes and requested
    returns."""
    from gato.data.recording.behaviours import parse_behaviours
    from gato.envs import registry
    from gato.errors import ConfigError
    from gato.eval.returns import parse_return_target
    from gato.train.validate import validate_config

    validate_config(config)
    s = config.study
    arms = [a.strip() for a in s.arms.split(",") if a.strip()]
    if not arms or set(arms) - set(ARMS):
        raise ConfigError(f"config key study.arms={s.arms!r}: expected some of {ARMS}")
    if not 0.0 < float(s.top_fraction) <= 1.0:
        raise ConfigError(f"config key study.top_fraction={s.top_fraction}: expected (0, 1]")
    if int(s.sweep_episodes) < 1:
        raise ConfigError(f"config key study.sweep_episodes={s.sweep_episodes}: expected >= 1")
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
    from gato.data.recording.generate import format_report, generate_datasets
    from gato.envs import registry

    g = config.generate
    manifests = {}
    for task in registry.select(None, g.tasks):
        report = generate_datasets([task], data_dir, episodes=0, seed=g.seed,
                                   max_episode_steps=g.max_episode_steps or None,
                                   workers=g.workers, noise_correlation=g.noise_correlation,
                                   behaviours=g.behaviours[task.name])
        print(format_report(report), flush=True)
        manifests[task.name] = manifest_of(formats.load_episodes(task.name, data_dir))
        print(format_manifest(manifests[task.name]), flush=True)
    return manifests


def evaluate(config: ml_collections.ConfigDict, arm_dir: pathlib.Path, target: str,
             episodes: int, name: str) -> dict[str, Any]:
    """The results (as results.json) of the arm's final checkpoint asking for `target`, in
    ARM/eval/NAME/; a finished evaluation with the same eval config is reused."""
    from gato.eval import runs

    def config_for(run_config: dict) -> ml_collections.ConfigDict:
        eval_config = ml_collections.ConfigDict(config.eval.to_dict())
        eval_config.update({"return_target": target, "episodes": int(episodes),
                            "data_dir": str(config.data.data_dir)})
        return eval_config

    return runs.evaluate_checkpoint(arm_dir, config_for, out=arm_dir / "eval" / name,
                                    reuse=True)


def report(config: ml_collections.ConfigDict, workdir: pathlib.Path, manifests: dict,
           arms: dict[str, dict], sweep: dict[str, list]) -> dict[str, Any]:
    """Writes study.json, study.md and sweep.png; returns the summary."""
    from gato.eval import return_report, statistics

    reps = int(config.eval.get("bootstrap_reps", 5000))
    rows = return_report.task_rows(manifests, arms, reps)
    summary = return_report.aggregate(rows, arms, reps)
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
    data_dir = pathlib.Path(config.data.data_dir or workdir / "data").resolve()
    config.data.data_dir = str(data_dir)
    arms = [a.strip() for a in config.study.arms.split(",") if a.strip()]
    _banner(f"1/4 mixed-quality data -> {data_dir}")
    manifests = generate(config, data_dir)
    for i, arm in enumerate(arms):
        _banner(f"2/4 arm {i + 1}/{len(arms)} {arm}: {config.train.total_steps} steps -> "
                f"{workdir / arm}")
        final = train_and_evaluate(arm_config(config, arm), workdir / arm)
        print({k: round(float(v), 4) for k, v in final.items() if k.startswith("train/loss")})
    _banner("3/4 evaluation")
    results = {}
    for arm in arms:
        target = str(config.study.target) if arm == "returns" else "none"
        results[arm] = evaluate(config, workdir / arm, target, int(config.eval.episodes),
                                f"main_{target}")
    sweep: dict[str, list] = {}
    if "returns" in arms:
        from gato.eval.return_report import episode_returns

        for target in [t.strip() for t in config.study.sweep.split(",") if t.strip()]:
            print(f"sweep: asking for {target}", flush=True)
            done = evaluate(config, workdir / "returns", target,
                            int(config.study.sweep_episodes), f"sweep_{target}")
            for row in done["tasks"]:
                sweep.setdefault(row["task"], []).append(
                    {"target": target, "requested": row.get("requested_return"),
                     "returns": episode_returns(done, row["task"])})
    _banner("4/4 report")
    summary = report(config, workdir, manifests, results, sweep)
    print(f"done in {(time.perf_counter() - started) / 60:.1f} min; everything is in {workdir}")
    return summary


def run(args: argparse.Namespace) -> int:
    os.environ.setdefault("MUJOCO_GL", "osmesa")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from gato.train.config import apply_overrides, load_config

    config = apply_overrides(load_config(args.config), args.overrides)
    check_study(config)
    workdir = pathlib.Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    run_study(config, workdir)
    return 0
