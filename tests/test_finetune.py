"""`gato finetune`: params (and the optimizer state only when asked) from a checkpoint, the first
N episodes of a task, the best checkpoint by held-out nll, one-line refusals that write nothing."""

import json

import jax
import numpy as np
import pytest

from gato import cli
from gato.data.recording.generate import generate_datasets
from gato.envs import registry
from gato.testing import train as testing
from gato.train import checkpoint as ckpt
from gato.train import setup as setup_lib
from gato.train.loop import train_and_evaluate
from gato.train.optimizer import make_optimizer
from gato.workflows import finetune

QUICK = "finetune:quick"


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("ft")
    generate_datasets([registry.get("cartpole-balance"), registry.get("cartpole-swingup")],
                      root / "data", episodes=5, max_episode_steps=30)
    return root


def _sets(*pairs):
    return [a for p in pairs for a in ("--set", p)]


def _initial_state(config, tmp_path):
    from gato.model.build import build_model

    model, _ = build_model(config.model)
    mesh, rules = setup_lib.setup_mesh(config)
    tx, _ = make_optimizer(config.optimizer, config.train.total_steps)
    state_setup = setup_lib.setup_state(model, tx, mesh, rules, config.train.seq_len)
    checkpointer = ckpt.Checkpointer(tmp_path / "empty", 1)
    try:
        return setup_lib.restore_or_init(config, checkpointer, state_setup, None,
                                         jax.random.PRNGKey(7))
    finally:
        checkpointer.close()


def test_params_always_and_optimizer_state_only_when_asked(tmp_path):
    pre = tmp_path / "pre"
    train_and_evaluate(testing.tiny_config("train.total_steps=3", "train.checkpoint_every=3"),
                       pre)
    saved, _ = ckpt.restore_from_path(pre / "checkpoints",
                                      _initial_state(testing.tiny_config(), tmp_path / "a"))
    plain = _initial_state(testing.tiny_config(
        f"checkpoint.init_from={str(pre / 'checkpoints')!r}"), tmp_path / "b")
    both = _initial_state(testing.tiny_config(
        f"checkpoint.init_from={str(pre / 'checkpoints')!r}", "checkpoint.init_opt_state=True"),
        tmp_path / "c")
    for state in (plain, both):
        assert int(state.step) == 0
        jax.tree.map(np.testing.assert_array_equal, state.params, saved.params)
    moments = [x for x in jax.tree.leaves(plain.opt_state) if np.ndim(x) > 1]
    assert moments and all(not np.any(x) for x in moments)  # fresh: zeros
    counts = [x for p, x in jax.tree_util.tree_leaves_with_path(both.opt_state)
              if getattr(p[-1], "name", None) == "count"]
    assert counts and all(int(c) == 0 for c in counts)  # its own schedule starts at 0
    mine = [x for x in jax.tree.leaves(both.opt_state) if np.ndim(x) > 1]
    theirs = [x for x in jax.tree.leaves(saved.opt_state) if np.ndim(x) > 1]
    for a, b in zip(mine, theirs, strict=True):
        np.testing.assert_array_equal(a, b)
    assert any(np.any(x) for x in mine)


def test_the_best_checkpoint_is_chosen_by_heldout_nll():
    rows = [{"step": 2, "heldout/control/a/nll": 2.0, "heldout/control/b/nll": 1.0,
             "heldout/control/a/marginal_nll": 0.1},
            {"step": 4, "heldout/control/a/nll": 1.0, "heldout/control/b/nll": 1.2},
            {"step": 6, "train/loss": 0.1},
            {"step": 8, "heldout/control/a/nll": 1.5, "heldout/control/b/nll": 1.0}]
    step, means = finetune.best_step(rows)
    assert step == 4 and means == {2: 1.5, 4: 1.1, 8: 1.25}
    with pytest.raises(ValueError, match="no held-out nll"):
        finetune.best_step([{"step": 1, "train/loss": 1.0}])


def test_finetune_runs_and_keeps_the_best_by_heldout_nll(data, tmp_path):
    common = _sets(f"data.data_dir={str(data / 'data')!r}", "generate.tasks=''")
    assert cli.main(["train", "--config", QUICK, "--workdir", str(tmp_path / "pre"),
                     *_sets("data.tasks='cartpole-balance'", "train.total_steps=2"),
                     *common]) == 0
    assert cli.main(["finetune", "--config", QUICK, "--checkpoint", str(tmp_path / "pre"),
                     "--workdir", str(tmp_path / "ft"), *common]) == 0
    best = json.loads((tmp_path / "ft" / "train" / "best.json").read_text())
    by_step = {int(k): v for k, v in best["heldout_nll_by_step"].items()}
    assert sorted(by_step) == [2, 4, 6] and best["heldout_nll"] == min(by_step.values())
    assert (tmp_path / "ft" / "train" / "eval" / f"step_{best['step']}" / "results.json").is_file()


@pytest.mark.parametrize("args,message", [
    (["--episodes", "9"], "has 5 recorded episodes, fewer than finetune.episodes + "
                          "finetune.heldout_episodes = 11"),
    (_sets("data.tasks='cartpole-nope'"), "unknown task 'cartpole-nope'"),
    (_sets("model.name='small'"), "is a model 'tiny'"),
])
def test_bad_input_is_one_line_and_writes_nothing(data, tmp_path, capsys, args, message):
    pre = tmp_path / "pre"
    common = _sets(f"data.data_dir={str(data / 'data')!r}", "generate.tasks=''")
    assert cli.main(["train", "--config", QUICK, "--workdir", str(pre),
                     *_sets("data.tasks='cartpole-balance'", "train.total_steps=1"),
                     *common]) == 0
    capsys.readouterr()
    assert cli.main(["finetune", "--config", QUICK, "--checkpoint", str(pre), "--workdir",
                     str(tmp_path / "ft"), *common, *args]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err
    assert not (tmp_path / "ft" / "train").exists()
