"""`gato transfer`: Gato's Fig. 9 as one resumable command. Pretrain without a held-out task in
several ways, fine-tune on N of its demonstrations, score it in its environment.

    gato transfer [--config transfer[:variant]] [--workdir runs/transfer] [--set KEY=VALUE ...]

1. records the config's generate section (the pretraining tasks and the held-out task's
   demonstrations) in WORKDIR/data;
2. pretrains each transfer.sizes x transfer.variants (WORKDIR/pretrain/<size>/<variant>/):
   "all" (data.tasks without the held-out task), "same_domain" (only its suite's tasks),
   "non_control" (only text and vision-language pairs); "scratch" pretrains nothing. A variant
   whose data would hold a held-out task is refused before any training;
3. sweeps transfer.learning_rates per size and variant at N = transfer.sweep_episodes and the
   first seed, and keeps the one with the lowest held-out action nll (episodes N..N+k of the
   held-out task, `gato finetune`'s criterion: never the rollout score) -> schedules.json;
4. fine-tunes every size x variant x N x seed at that learning rate and at
   transfer.shared_learning_rate (the one schedule Fig. 9 used for all; a run both share is run
   once): WORKDIR/finetune/<size>/<variant>/lr<lr>/n<N>/seed<s>/, each evaluated at its best
   checkpoint in the held-out task's environment (eval section; other checkpoints removed);
5. writes transfer.md, transfer.json and transfer_<size>.png (score against N per variant, each
   variant's own schedule beside the shared one) in WORKDIR.
Every step resumes: recorded data, finished pretraining, fine-tuning runs with best.json and
evaluations with results.json are reused.
"""

import argparse
import copy
import json
import pathlib
import shutil
from typing import Any

import ml_collections

from gato.errors import ConfigError
from gato.rundir import RunDir
from gato.workflows import common, finetune
from gato.workflows.sweep import finished

VARIANTS = ("all", "same_domain", "non_control", "scratch")
NON_CONTROL_SUITES = ("text", "vision_language")  # data without actions


def add_arguments(parser: argparse.ArgumentParser) -> None:
    common.add_run_arguments(parser, config="transfer", workdir="runs/transfer")


def heldout_tasks(config: ml_collections.ConfigDict) -> list[Any]:
    """The held-out registry Tasks; ConfigError (one line) for an unknown name."""
    from gato.envs import registry

    try:
        return registry.select(None, config.transfer.heldout)
    except (KeyError, ValueError) as e:
        raise ConfigError(f"config key transfer.heldout: {e.args[0] if e.args else e}") from None


def pretraining_tasks(config: ml_collections.ConfigDict, variant: str) -> list[str]:
    """The task names variant `variant` pretrains on: data.suites / data.tasks without the
    held-out tasks, kept to their suites (same_domain) or to text and image-text
    (non_control); none for scratch."""
    from gato.data.pipeline.resolve import selected_tasks

    if variant not in VARIANTS:
        raise ConfigError(f"transfer variant {variant!r} is not one of {', '.join(VARIANTS)}")
    heldout = heldout_tasks(config)
    held = {t.name for t in heldout}
    tasks = [t for t in selected_tasks(config.data) if t.name not in held]
    if variant == "same_domain":
        tasks = [t for t in tasks if t.suite in {h.suite for h in heldout}]
    elif variant == "non_control":
        tasks = [t for t in tasks if t.suite in NON_CONTROL_SUITES]
    elif variant == "scratch":
        tasks = []
    return [t.name for t in tasks]


def check_pretraining(c: ml_collections.ConfigDict, heldout: set[str]) -> None:
    """ConfigError (one line) when pretraining config `c` would read a held-out task."""
    from gato.data.pipeline.resolve import selected_tasks

    leaked = sorted(heldout & {t.name for t in selected_tasks(c.data)})
    if leaked:
        raise ConfigError(f"pretraining data holds the held-out task(s) {', '.join(leaked)}: "
                          "remove them from data.tasks / data.suites")


def pretrain_config(config: ml_collections.ConfigDict, size: str, variant: str
                    ) -> ml_collections.ConfigDict:
    """The config of one pretraining run: model size `size`, the variant's tasks (weights
    kept), transfer.pretrain_steps steps, no in-training evaluators."""
    tasks = pretraining_tasks(config, variant)
    if not tasks:
        raise ConfigError(f"transfer variant {variant!r} has no pretraining tasks in "
                          f"data.suites / data.tasks ({config.data.suites!r} / "
                          f"{config.data.tasks!r})")
    c = copy.deepcopy(config)
    c.model.name = size
    c.data.suites = ""
    c.data.tasks = ",".join(tasks)
    c.data.task_weights = {k: v for k, v in config.data.task_weights.items() if k in tasks}
    c.train.total_steps = int(config.transfer.pretrain_steps)
    c.evaluators = {}
    check_pretraining(c, {t.name for t in heldout_tasks(config)})
    return c


def finetune_config(config: ml_collections.ConfigDict, size: str, variant: str, lr: float,
                    n: int, seed: int, workdir: pathlib.Path) -> ml_collections.ConfigDict:
    """The config of one fine-tuning run (`gato finetune`'s keys) on the held-out task(s)."""
    heldout = heldout_tasks(config)
    t = config.transfer
    c = copy.deepcopy(config)
    c.model.name = size
    c.data.suites = ""
    c.data.tasks = ",".join(h.name for h in heldout)
    c.data.mixture = {h.suite: 1.0 for h in heldout}
    c.data.task_weights = {}
    c.finetune.episodes = int(n)
    c.finetune.checkpoint = ("" if variant == "scratch" else
                             str(RunDir(workdir / "pretrain" / size / variant).checkpoints))
    c.optimizer.learning_rate = float(lr)
    c.optimizer.warmup_steps = int(t.finetune_warmup)
    c.train.total_steps = int(t.finetune_steps)
    c.train.seed = int(seed)
    c.evaluators = {}
    return c


def cell_dir(workdir: pathlib.Path, size: str, variant: str, lr: float, n: int, seed: int
             ) -> pathlib.Path:
    return workdir / "finetune" / size / variant / f"lr{lr:g}" / f"n{n}" / f"seed{seed}"


def keep_only(train_dir: pathlib.Path, step: int) -> None:
    """Removes every checkpoint of a finished fine-tuning run but `step` (the best)."""
    root = RunDir(train_dir).checkpoints
    for path in root.iterdir() if root.is_dir() else []:
        if path.is_dir() and path.name.isdigit() and int(path.name) != step:
            shutil.rmtree(path)


def finetune_cell(config: ml_collections.ConfigDict, workdir: pathlib.Path, size: str,
                  variant: str, lr: float, n: int, seed: int) -> dict[str, Any]:
    """Fine-tunes one cell (resumable), evaluates its best checkpoint; {"best", "results"}."""
    c = finetune_config(config, size, variant, lr, n, seed, workdir)
    train_dir = cell_dir(workdir, size, variant, lr, n, seed)
    print(f"fine-tune {size}/{variant} lr {lr:g} N {n} seed {seed} -> {train_dir}", flush=True)
    best = finetune.finetune(c, train_dir)
    results = common.evaluate(c, train_dir, step=int(best["step"]))
    keep_only(train_dir, int(best["step"]))
    return {"best": best, "results": results}


def choose_learning_rates(config: ml_collections.ConfigDict, workdir: pathlib.Path,
                          clock: common.StudyClock | None = None
                          ) -> dict[tuple[str, str], dict[str, Any]]:
    """{(size, variant): {"lr", "heldout_nll": {lr: nll}}}: each variant's learning rate with
    the lowest held-out nll at transfer.sweep_episodes and the first seed (`clock` saved after
    each run)."""
    t = config.transfer
    n, seed = int(t.sweep_episodes), common.numbers(t.seeds)[0]
    chosen = {}
    for size in common.names(t.sizes):
        for variant in common.names(t.variants):
            nll = {}
            for lr in common.numbers(t.learning_rates, float):
                c = finetune_config(config, size, variant, lr, n, seed, workdir)
                train_dir = cell_dir(workdir, size, variant, lr, n, seed)
                best = finetune.finetune(c, train_dir)
                keep_only(train_dir, int(best["step"]))
                nll[lr] = float(best["heldout_nll"])
                if clock:
                    clock.save()
            lr = min(nll, key=lambda x: (nll[x], x))
            chosen[(size, variant)] = {"lr": lr, "heldout_nll": nll}
            print(f"{size}/{variant}: learning rate {lr:g} (held-out nll "
                  + ", ".join(f"{k:g}: {v:.3f}" for k, v in nll.items()) + ")", flush=True)
    return chosen


def largest_episodes(config: ml_collections.ConfigDict) -> int:
    """The largest N any fine-tuning run of the study reads (the grid's or the sweep's)."""
    t = config.transfer
    return max(common.numbers(t.episodes) + [int(t.sweep_episodes)])


def check_study(config: ml_collections.ConfigDict) -> None:
    """ConfigError (one line) for a study that cannot run, before any work."""
    t = config.transfer
    if not config.eval.suites and not config.eval.tasks:
        raise ConfigError("the transfer study scores the held-out task in its environment: "
                          "set eval.tasks (e.g. to transfer.heldout)")
    from gato.data.recording.plan import task_settings

    need = largest_episodes(config) + int(config.finetune.heldout_episodes)
    # per task, suite and task overrides applied; nothing is recorded without generate.tasks
    recorded = task_settings(config.generate) if config.generate.tasks else {}
    for name in [h.name for h in heldout_tasks(config)]:
        have = int(recorded.get(name, {}).get("episodes", need))
        if have < need:
            raise ConfigError(f"held-out task {name!r} is recorded with {have} episodes, fewer "
                              f"than the largest N + finetune.heldout_episodes = {need}: set "
                              f"generate.task_overrides['{name}'].episodes")
    for size in common.names(t.sizes):
        for variant in common.names(t.variants):
            if variant != "scratch":
                pretrain_config(config, size, variant)


def run_study(config: ml_collections.ConfigDict, workdir: pathlib.Path) -> list[dict]:
    """Steps 1-5 of the module docstring; returns the report's rows."""
    from gato.results import transfer_report
    from gato.train import train_and_evaluate

    clock = common.StudyClock(workdir)
    t = config.transfer
    sizes, variants = common.names(t.sizes), common.names(t.variants)
    data_dir = common.data_dir(config, workdir)
    common.banner(f"1/5 data -> {data_dir}")
    if config.generate.tasks:
        common.record(config, data_dir)
    finetune.check_episodes(finetune_config(config, sizes[0], "scratch",
                                            float(t.shared_learning_rate),
                                            largest_episodes(config), 0, workdir))
    timing = {}
    for size in sizes:
        for variant in [v for v in variants if v != "scratch"]:
            c = pretrain_config(config, size, variant)
            train_dir = workdir / "pretrain" / size / variant
            common.banner(f"2/5 pretraining {size}/{variant} on {c.data.tasks} for "
                          f"{c.train.total_steps} steps -> {train_dir}")
            if not finished(train_dir, int(c.train.total_steps)):
                train_and_evaluate(c, train_dir)
            clock.save()
            timing[f"{size}/{variant}"] = common.step_seconds(
                train_dir, int(c.train.batch_size) * int(c.train.seq_len))
    common.banner(f"3/5 learning-rate sweep at N={t.sweep_episodes}: {t.learning_rates}")
    chosen = choose_learning_rates(config, workdir, clock)
    (workdir / "schedules.json").write_text(json.dumps(
        {f"{s}/{v}": x for (s, v), x in chosen.items()}, indent=1) + "\n")
    shared = float(t.shared_learning_rate)
    plan = [(size, schedule, variant, n, seed, lr)
            for size in sizes for variant in variants for n in common.numbers(t.episodes)
            for seed in common.numbers(t.seeds)
            for schedule, lr in (("own", chosen[(size, variant)]["lr"]), ("shared", shared))]
    cells = list(dict.fromkeys((size, variant, lr, n, seed)
                               for size, _, variant, n, seed, lr in plan))
    common.banner(f"4/5 fine-tuning: {len(cells)} runs (sizes x variants x N x seeds, own and "
                  "shared schedule; a run both share counted once)")
    done = {}
    for i, cell in enumerate(cells):
        print(f"[{i + 1}/{len(cells)}, {clock.seconds() / 60:.0f} min]", end=" ", flush=True)
        done[cell] = finetune_cell(config, workdir, *cell)["results"]
        clock.save()
    runs: dict[tuple, dict] = {}
    for size, schedule, variant, n, seed, lr in plan:
        runs.setdefault((size, schedule, variant, n), {})[f"seed{seed}"] = done[
            (size, variant, lr, n, seed)]
    common.banner("5/5 report")
    reps = int(config.eval.bootstrap_reps)
    rows = transfer_report.score_rows(runs, reps)
    lrs = {k: v["lr"] for k, v in chosen.items()}
    heldout = ", ".join(h.name for h in heldout_tasks(config))
    lines = [f"# Transfer to {heldout} ({workdir})", "",
             f"Expert-normalized score of the best checkpoint by held-out nll, mean over "
             f"{len(common.numbers(t.seeds))} fine-tuning seeds [95% interval], "
             f"{config.eval.episodes or 'the protocol'} episodes per seed (protocol "
             f"{config.eval.protocol}); {t.finetune_steps} fine-tuning steps; pretraining "
             f"{t.pretrain_steps} steps per variant.", "",
             transfer_report.format_tables(rows, lrs, shared)]
    for size in sizes:
        order = {s: transfer_report.ranking(rows, size, s) for s in transfer_report.SCHEDULES}
        lines.append(f"- {size}: ranking by mean over N, own schedules: "
                     f"{' > '.join(order['own']) or 'no normalized scores'}; shared: "
                     f"{' > '.join(order['shared']) or 'no normalized scores'}")
        transfer_report.plot_transfer(workdir / f"transfer_{size}.png", rows, size)
    clock.save()
    lines.append("- pretraining seconds per step: " + ", ".join(
        f"{k} {v:.2f}" for k, v in timing.items() if v) + f"; {clock.summary()}")
    text = "\n".join(lines) + "\n"
    (workdir / "transfer.md").write_text(text)
    (workdir / "transfer.json").write_text(json.dumps(
        {"rows": rows, "learning_rates": {f"{s}/{v}": x for (s, v), x in chosen.items()},
         "shared_learning_rate": shared, "pretrain_step_seconds": timing,
         "study_seconds": round(clock.seconds(), 1),
         "config": config.to_dict()}, indent=1, default=str) + "\n")
    print(text, flush=True)
    return rows


def run(args: argparse.Namespace) -> int:
    return common.run_command(args, check_study, run_study)
