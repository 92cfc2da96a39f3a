"""Every experiment config loads, names real components and trains only on registered tasks."""

import pathlib

import pytest

from gato.config import load_config
from gato.data.pipeline.sources import SOURCES
from gato.envs import registry
from gato.eval import register_evaluators
from gato.eval.config import validate as validate_eval
from gato.model.build import build_model
from gato.train import evaluators

EXPERIMENTS = sorted((pathlib.Path(__file__).parents[1] / "experiments").glob("[!_]*.py"))
VARIANTS = {"gato_cpu.py": ["", "quick", "vl", "quick,vl"],
            "gato_cluster.py": ["", "size=364m,fsdp=4"],
            "return_conditioned.py": ["", "tiny", "size=79m,batch=64,fsdp=2"],
            "transfer.py": ["", "quick", "cluster"], "scaling.py": ["", "quick", "cluster"],
            "babyai.py": ["", "quick", "cells"],
            "atari.py": ["", "quick", "channels=32", "frames=2,motion,noise=0.75",
                         "noise=0.5,noise_games=pong+breakout", "games=pong,noise=0.75",
                         "games=pong+breakout,noise=0.5,noise_games=pong"]}


def _cases():
    for path in EXPERIMENTS:
        for variant in VARIANTS.get(path.name, [""]):
            yield pytest.param(path, variant, id=f"{path.stem}:{variant}")


@pytest.mark.parametrize("path,variant", _cases())
def test_experiment_config_is_consistent(path, variant):
    config = load_config(f"{path}:{variant}" if variant else str(path))
    for section in ("model", "data", "optimizer", "train", "mesh", "checkpoint", "evaluators"):
        assert section in config, f"{path.name} has no {section!r} section"
    _, model_config = build_model(config.model)
    assert config.train.seq_len <= model_config.max_len
    assert config.data.source in SOURCES
    assert config.optimizer.warmup_steps < config.train.total_steps
    if config.data.source == "mixture":
        tasks = registry.select(config.data.suites or None, config.data.tasks or None)
        assert tasks, f"{path.name} trains on no task"
    register_evaluators()
    for name, entry in config.evaluators.items():
        assert evaluators.get(entry.type), f"{path.name}: evaluators.{name}"
    settings = dict(kv.split("=") for kv in variant.split(",") if "=" in kv)
    if "noise" in settings:  # each game recorded with its own execution noise
        from gato.data.recording.plan import task_settings

        noisy = settings.get("noise_games", config.generate.tasks.replace(",", "+"))
        by_game = {name: s["action_noise"] for name, s in task_settings(config.generate).items()}
        assert by_game == {game: float(settings["noise"]) if game in noisy.split("+") else 0.0
                           for game in config.generate.tasks.split(",")}
    if config.eval.suites or config.eval.tasks:  # configs without environments evaluate
        validate_eval(config.eval)             # through their in-training evaluators
        trained = {t.name for t in registry.select(config.data.suites or None,
                                                   config.data.tasks or None)}
        evaluated = {t.name for t in registry.select(config.eval.suites or None,
                                                     config.eval.tasks or None)}
        assert evaluated <= trained, f"{path.name} evaluates untrained tasks"


@pytest.mark.parametrize("variant,message", [
    ("noise_games=pong", "needs noise=P"),
    ("games=pong+tetris", r"unknown game\(s\) \['tetris'\]"),
    ("games=pong,noise=0.5,noise_games=boxing", "names games outside games=pong"),
])
def test_atari_variant_errors_are_one_line(variant, message):
    from gato.errors import ConfigError

    with pytest.raises(ConfigError, match=message) as info:
        load_config(f"atari:{variant}")
    assert "\n" not in str(info.value)


def test_atari_games_variant_trains_and_evaluates_those_games_only():
    config = load_config("atari:games=pong+breakout")
    for tasks in (config.generate.tasks, config.data.tasks, config.eval.tasks):
        assert tasks == "pong,breakout"


def test_packaged_configs_are_the_experiments_folder():
    """`--config NAME` finds the same files an installed package ships (`gato.experiments`)."""
    from gato.config import config_path, packaged_configs

    assert packaged_configs() == [p.name for p in EXPERIMENTS]
    shipped = config_path("gato_cpu").read_text()
    assert shipped == (EXPERIMENTS[0].parent / "gato_cpu.py").read_text()
    with pytest.raises(FileNotFoundError, match="packaged configs: .*gato_cluster.py"):
        load_config("no_such_config:quick")
