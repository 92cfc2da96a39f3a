"""`gato scaling`: Gato's Fig. 8 as one resumable command. Several model sizes on the same
mixture and token budget; held-out loss and score against parameters and training FLOPs.

    gato scaling [--config scaling[:variant]] [--workdir runs/scaling] [--set KEY=VALUE ...]

1. records the config's generate section in WORKDIR/data (as `gato main`);
2. trains each size of scaling.sizes (label -> ModelConfig fields over model.name) for each
   seed of scaling.seeds, with the same train section (steps, batch, sequence length: the same
   tokens) and optimizer, on all but each task's last scaling.heldout_episodes episodes:
   WORKDIR/<label>/seed<s>/; the final step scores the held-out episodes' action nll
   (the "offline" evaluator);
3. evaluates each run's final checkpoint in the environments (eval section);
4. writes scaling.md, scaling.json and scaling.png: per size the parameters, tokens, training
   FLOPs (6N + attention per token, `gato.model.flops`), seconds per step, held-out nll and the
   expert-normalized IQM with its 95% interval, and the held-out nll's power law against
   non-embedding parameters and against FLOPs with its exponent.
Every step resumes: data, finished runs and evaluations are reused.
"""

import argparse
import copy
import json
import pathlib
from typing import Any

import ml_collections
import numpy as np

from gato.errors import ConfigError
from gato.rundir import RunDir
from gato.workflows import common, finetune
from gato.workflows.finetune import HELDOUT
from gato.workflows.sweep import finished


def add_arguments(parser: argparse.ArgumentParser) -> None:
    common.add_run_arguments(parser, config="scaling", workdir="runs/scaling")


def model_section(config: ml_collections.ConfigDict, label: str) -> ml_collections.ConfigDict:
    """The model section of size `label`: its base name and its fields over the config's."""
    fields = dict(config.scaling.sizes[label])
    section = copy.deepcopy(config.model)
    section.name = str(fields.pop("name", config.model.name))
    section.overrides = {**config.model.overrides.to_dict(), **fields}
    return section


def check_sizes(config: ml_collections.ConfigDict) -> dict[str, Any]:
    """{label: ModelConfig}; ConfigError (one line) for fewer than two sizes or a size the model
    refuses."""
    from gato.model.build import model_config_from

    if len(config.scaling.sizes) < 2:
        raise ConfigError(f"scaling.sizes names {len(config.scaling.sizes)} model size(s): a "
                          "scaling curve needs at least two")
    models = {}
    for label in config.scaling.sizes:
        try:
            models[label] = model_config_from(model_section(config, label))
        except (TypeError, ValueError) as e:
            raise ConfigError(f"scaling.sizes[{label!r}]: {e}") from None
    return models


def run_config(config: ml_collections.ConfigDict, label: str, seed: int
               ) -> ml_collections.ConfigDict:
    """One size's training config: its model, the held-out split and evaluator at the end."""
    k = int(config.scaling.heldout_episodes)
    c = copy.deepcopy(config)
    c.model = model_section(config, label)
    c.train.seed = int(seed)
    c.data.split = f"train[:-{k}]"
    c.evaluators = {HELDOUT: {"type": "offline", "every": int(config.train.total_steps),
                              "options": {"split": f"train[-{k}:]",
                                          "windows": int(config.scaling.windows),
                                          "prefix": HELDOUT}}}
    return c


def heldout_nll(train_dir: pathlib.Path) -> float | None:
    """The mean over tasks of the held-out action nll at the run's last scoring."""
    from gato.train.metrics import read_jsonl

    means = finetune.heldout_nll_by_step(read_jsonl(RunDir(train_dir).metrics))
    return means[max(means)] if means else None


def point(config: ml_collections.ConfigDict, label: str, model: Any, counts: dict[str, int],
          runs: dict[str, pathlib.Path], results: dict[str, dict]) -> dict[str, Any]:
    """One size's entry of the report (gato.results.scaling_report); `counts` is
    gato.model.params.param_breakdown(model)."""
    from gato.model.flops import flops_per_token
    from gato.results import statistics

    tc = config.train
    tokens = int(tc.total_steps) * int(tc.batch_size) * int(tc.seq_len)
    nll = [x for x in (heldout_nll(d) for d in runs.values()) if x is not None]
    steps = [x for x in (common.step_seconds(d, int(tc.batch_size) * int(tc.seq_len))
                         for d in runs.values()) if x]
    summary = statistics.summarize(results, int(config.eval.bootstrap_reps))
    metrics = summary["groups"][statistics.ALL]["metrics"]
    return {"label": label, "model": model_section(config, label).to_dict(),
            "params": counts["total"], "transformer_params": counts["transformer"],
            "tokens": tokens, "train_flops": flops_per_token(model, int(tc.seq_len)) * tokens,
            "heldout_nll": float(np.mean(nll)) if nll else None,
            "score": metrics["iqm"] if metrics else None, "score_unit": summary["unit"],
            "runs": len(runs), "episodes": sum(int(r.get("episodes", 0)) for x in results.values()
                                               for r in x["tasks"]),
            "step_seconds": float(np.median(steps)) if steps else None}


def run_study(config: ml_collections.ConfigDict, workdir: pathlib.Path) -> list[dict]:
    """Steps 1-4 of the module docstring; returns the points of the report."""
    from gato.model.params import param_breakdown
    from gato.results import scaling_report
    from gato.train import train_and_evaluate

    clock = common.StudyClock(workdir)
    models = check_sizes(config)
    data_dir = common.data_dir(config, workdir)
    common.banner(f"1/4 data -> {data_dir}")
    if config.generate.tasks:
        common.record(config, data_dir)
    seeds = common.numbers(config.scaling.seeds)
    points = []
    counts = {label: param_breakdown(m) for label, m in models.items()}  # eval_shape, once
    order = sorted(models, key=lambda label: counts[label]["total"])
    for i, label in enumerate(order):
        runs, results = {}, {}
        for seed in seeds:
            c = run_config(config, label, seed)
            train_dir = runs[f"seed{seed}"] = workdir / label / f"seed{seed}"
            common.banner(f"2/4 size {i + 1}/{len(order)} {label} seed {seed}: "
                          f"{c.train.total_steps} steps -> {train_dir}")
            if not finished(train_dir, int(c.train.total_steps)):
                train_and_evaluate(c, train_dir)
            common.banner(f"3/4 evaluation of {label} seed {seed}")
            results[f"seed{seed}"] = common.evaluate(c, train_dir)
            clock.save()
        points.append(point(config, label, models[label], counts[label], runs, results))
    common.banner("4/4 report")
    fitted = scaling_report.fits(points)
    clock.save()
    text = "\n".join([
        f"# Scaling ({workdir})", "",
        f"{len(order)} sizes x {len(seeds)} seed(s), {config.train.total_steps} steps of "
        f"{config.train.batch_size} x {config.train.seq_len} tokens each; held-out nll on each "
        f"task's last {config.scaling.heldout_episodes} episodes; score: expert-normalized IQM "
        f"over tasks (protocol {config.eval.protocol}).", "",
        scaling_report.format_table(points, fitted), "",
        f"Time: {clock.summary()}.", ""])
    (workdir / "scaling.md").write_text(text)
    (workdir / "scaling.json").write_text(json.dumps(
        {"points": points, "fits": fitted, "study_seconds": round(clock.seconds(), 1),
         "config": config.to_dict()}, indent=1,
        default=str) + "\n")
    scaling_report.plot_scaling(workdir / "scaling.png", points, fitted)
    print(text, flush=True)
    return points


def run(args: argparse.Namespace) -> int:
    return common.run_command(args, check_sizes, run_study)
