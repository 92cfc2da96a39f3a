"""Evaluating checkpoints from disk: bad inputs, config checks and the `gato eval` CLI."""

import json
import pathlib
import shutil
import subprocess
import sys

import pytest

from gato.cli import main as gato_main
from gato.envs import registry
from gato.eval import checkpoints
from gato.model import get_model_config
from gato.testing.eval import save_random_checkpoint


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> pathlib.Path:
    workdir = tmp_path_factory.mktemp("run")
    save_random_checkpoint(workdir, steps=(1, 2), data={"source": "rlds", "suites": "",
                                                        "tasks": "cartpole-balance"})
    return workdir


def test_missing_checkpoint_dir_named(tmp_path, capsys):
    missing = tmp_path / "nope"
    with pytest.raises(FileNotFoundError, match=str(missing)):
        checkpoints.load_checkpoint(missing)
    assert gato_main(["eval", "--checkpoint", str(missing), "--tasks", "cartpole-balance"]) == 1
    assert str(missing) in capsys.readouterr().err


def test_directory_without_config(tmp_path):
    (tmp_path / "checkpoints" / "5").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="config.json"):
        checkpoints.load_checkpoint(tmp_path)


def test_load_and_select_steps(run_dir):
    loaded = checkpoints.load_checkpoint(run_dir)
    assert loaded.step == 2 and loaded.workdir == run_dir
    assert loaded.model_config.max_len == 32
    assert checkpoints.load_checkpoint(run_dir / "checkpoints" / "1").step == 1
    with pytest.raises(FileNotFoundError, match="step 7"):
        checkpoints.load_checkpoint(run_dir, step=7)
    tasks = registry.select(None, "cartpole-balance,pendulum-swingup")
    warnings = checkpoints.check_compatible(loaded, tasks)
    assert len(warnings) == 1 and "pendulum-swingup" in warnings[0]


def test_mismatched_vocab_is_an_error(run_dir):
    loaded = checkpoints.load_checkpoint(run_dir)
    small = loaded.__class__(**{**loaded.__dict__,
                                "model_config": get_model_config("tiny", vocab_size=1000)})
    with pytest.raises(ValueError, match="vocab_size 1000"):
        checkpoints.check_compatible(small, [registry.get("cartpole-balance")])


def _copy(run_dir: pathlib.Path, tmp_path: pathlib.Path) -> pathlib.Path:
    shutil.copytree(run_dir / "checkpoints", tmp_path / "checkpoints")
    return tmp_path


def test_config_not_matching_params(run_dir, tmp_path):
    _copy(run_dir, tmp_path)
    config_path = tmp_path / "checkpoints" / "config.json"
    config = json.loads(config_path.read_text())
    config["model"]["overrides"]["embed_dim"] = 96
    config_path.write_text(json.dumps(config))
    with pytest.raises(checkpoints.CheckpointError, match=str(tmp_path / "checkpoints" / "2")):
        checkpoints.load_checkpoint(tmp_path)


def test_corrupt_checkpoint(run_dir, tmp_path):
    _copy(run_dir, tmp_path)
    params_dir = tmp_path / "checkpoints" / "2" / "params"
    for f in params_dir.rglob("*"):
        if f.is_file():
            f.write_bytes(b"garbage")
    with pytest.raises(checkpoints.CheckpointError, match="corrupt"):
        checkpoints.load_checkpoint(tmp_path)


def test_cli_refuses_a_cap_without_reference_returns(run_dir, capsys):
    args = ["eval", "--checkpoint", str(run_dir), "--tasks", "cartpole-balance",
            "--max-steps", "20", "--prompt", "none", "--no-gif"]
    assert gato_main(args) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("gato eval: error: cannot normalize "
                                               "cartpole-balance under protocol full[")
    assert not (run_dir / "eval").exists()  # refused before any episode


def test_cli_evaluates_checkpoint_from_disk(run_dir, subprocess_env, monkeypatch, capsys):
    env = subprocess_env
    cmd = [sys.executable, "-m", "gato.cli", "eval", "--checkpoint", str(run_dir),
           "--tasks", "cartpole-balance", "--episodes", "2", "--batch-size", "2",
           "--max-steps", "20", "--no-normalize", "--prompt", "none", "--greedy"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = run_dir / "eval" / "step_2"
    results = json.loads((out / "results.json").read_text())
    eps = results["episodes"]["cartpole-balance"]
    assert [e["length"] for e in eps] == [20, 20] and all(e["error"] is None for e in eps)
    assert results["step"] == 2 and results["checkpoint"].endswith("checkpoints/2")
    assert results["protocol"]["label"] == "full[episodes=2,max_episode_steps=20]"
    for name in ("tasks.csv", "suites.csv", "scores_control.png", "gifs/cartpole-balance.gif"):
        assert (out / name).stat().st_size > 0, name
    assert "cartpole-balance" in proc.stdout  # the printed table
    assert any((run_dir / "tensorboard").iterdir())

    monkeypatch.setenv("MUJOCO_GL", "osmesa")
    args = ["eval", "--run", str(run_dir), "--tasks", "cartpole-balance", "--episodes", "1",
            "--max-steps", "5", "--no-normalize", "--prompt", "none", "--no-gif"]
    assert gato_main(args) == 0
    printed = capsys.readouterr().out
    assert "step 2: already scored" in printed
    assert json.loads((run_dir / "eval" / "step_1" / "results.json").read_text())["step"] == 1

    # another evaluation of step 2 keeps the first one's results unless forced
    first = (out / "results.json").read_text()
    args = ["eval", "--checkpoint", str(run_dir), "--tasks", "cartpole-balance", "--episodes", "1",
            "--max-steps", "5", "--no-normalize", "--prompt", "none", "--no-gif"]
    assert gato_main(args) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "already holds the results of another evaluation of step 2" in err[0]
    assert (out / "results.json").read_text() == first
    assert gato_main(args + ["--force"]) == 0
    replaced = json.loads((out / "results.json").read_text())
    assert replaced["protocol"]["label"] == "full[episodes=1,max_episode_steps=5]"
