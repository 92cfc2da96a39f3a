"""Checkpoints are verified on restore, damaged ones are reported and skipped, and a resume that
does not match the checkpoint leaves the workdir exactly as it was. One tiny reference run (6
steps, checkpoints 2, 4, 6) is copied and damaged per test."""

import hashlib
import json
import logging
import pathlib
import shutil

import pytest

from gato import cli
from gato.testing import faults
from gato.testing import train as testing

COMMON = ["train.total_steps=6", "train.checkpoint_every=2", "train.log_every=1",
          "train.seq_len=32", "train.peak_flops_per_device=1e9",
          "model.overrides={'num_layers': 1}"]


def sets(overrides):
    return [arg for item in overrides for arg in ("--set", item)]


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> pathlib.Path:
    from gato.train.loop import train_and_evaluate

    workdir = tmp_path_factory.mktemp("reference")
    train_and_evaluate(testing.tiny_config(*COMMON), workdir)
    return workdir


@pytest.fixture
def run(reference, tmp_path) -> pathlib.Path:
    """A copy of the reference run to damage."""
    return pathlib.Path(shutil.copytree(reference, tmp_path / "run"))


def abstract_state(config):
    from gato.model.build import build_model
    from gato.train import setup
    from gato.train.optimizer import make_optimizer

    model, _ = build_model(config.model)
    mesh, rules = setup.setup_mesh(config)
    tx, _ = make_optimizer(config.optimizer, config.train.total_steps)
    return setup.setup_state(model, tx, mesh, rules, config.train.seq_len).abstract


def snapshot(root: pathlib.Path) -> dict[str, str]:
    """Every file under root -> SHA-256 of its bytes (directories as "dir")."""
    return {str(p.relative_to(root)): "dir" if p.is_dir() else
            hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*"))}


def test_a_flipped_byte_in_the_newest_params_is_caught_and_the_run_resumes_exactly(
        run, reference, caplog):
    faults.flip_byte(faults.params_data_files(run / "checkpoints" / "6")[0], mask=0x40)
    with caplog.at_level(logging.ERROR):
        assert cli.main(["train", "--config", str(testing.TINY_CONFIG), "--workdir", str(run),
                         *sets(COMMON)]) == 0
    damaged = [r.getMessage() for r in caplog.records if "is damaged" in r.getMessage()]
    assert damaged and str(run / "checkpoints" / "6") in damaged[0] and "(step 6)" in damaged[0]
    assert "params fails its checksums" in damaged[0]
    assert (run / "checkpoints_damaged" / "6").is_dir()  # kept for inspection, out of the way
    assert (run / "checkpoints" / "6").is_dir()  # saved again by the resumed run
    expected, resumed = testing.losses(reference), testing.losses(run)
    assert sorted(resumed) == sorted(expected)
    for step in (5, 6):  # re-run from the intact step 4, bit for bit
        assert resumed[step] == expected[step]
    rows = [r["step"] for r in testing.read_jsonl(run / "metrics.jsonl") if "train/loss" in r]
    assert rows == sorted(set(rows))  # the re-run steps are not duplicated


def test_a_truncated_newest_checkpoint_falls_back_to_the_newest_intact_one(run):
    from gato.train import checkpoint

    faults.truncate(faults.params_data_files(run / "checkpoints" / "6")[0])
    checkpointer = checkpoint.Checkpointer(run / "checkpoints", keep=3)
    try:
        state, data_state, step = checkpointer.restore_latest_intact(
            abstract_state(testing.tiny_config(*COMMON)))
        assert step == 4 and int(state.step) == 4 and data_state == {"step": 4}
        assert checkpointer.all_steps() == [2, 4]
    finally:
        checkpointer.close()
    assert sorted(p.name for p in (run / "checkpoints_damaged").iterdir()) == ["6"]


def test_on_damaged_fail_stops_with_the_path_and_step(run):
    from gato.errors import DamagedCheckpointError
    from gato.train import checkpoint

    faults.truncate(faults.params_data_files(run / "checkpoints" / "6")[0])
    checkpointer = checkpoint.Checkpointer(run / "checkpoints", keep=3)
    try:
        with pytest.raises(DamagedCheckpointError, match=r"checkpoints/6 \(step 6\) is damaged"):
            checkpointer.restore_latest_intact(abstract_state(testing.tiny_config(*COMMON)),
                                               on_damaged="fail")
    finally:
        checkpointer.close()
    assert (run / "checkpoints" / "6").is_dir()  # "fail" moves nothing


def test_a_truncated_meta_names_the_checkpoint_and_step(run):
    from gato.train import checkpoint

    faults.truncate(run / "checkpoints" / "6" / "meta" / "metadata")
    with pytest.raises(Exception, match=r"checkpoints/6 \(step 6\) is damaged: cannot read "
                                        r".*checkpoints/6/meta: JSON") as raised:
        checkpoint.restore_from_path(run / "checkpoints" / "6",
                                     abstract_state(testing.tiny_config(*COMMON)))
    assert type(raised.value).__name__ == "DamagedCheckpointError"


def test_evaluation_refuses_damaged_params(run):
    from gato.eval import checkpoints
    from gato.eval.checkpoints import CheckpointError

    assert checkpoints.load_checkpoint(run).step == 6
    faults.flip_byte(faults.params_data_files(run / "checkpoints" / "6")[0], mask=0x40)
    with pytest.raises(CheckpointError, match=r"\(step 6\) is damaged: params fails its"):
        checkpoints.load_checkpoint(run)
    assert checkpoints.load_checkpoint(run, step=4).step == 4


def test_a_changed_model_leaves_the_workdir_exactly_as_it_was(run, capsys):
    from gato.eval import checkpoints

    before = snapshot(run)
    args = ["train", "--config", str(testing.TINY_CONFIG), "--workdir", str(run),
            *sets([*COMMON, "model.name='small'"])]
    assert cli.main(args) == 1
    err = capsys.readouterr().err
    assert "holds another model than the config's" in err and "model.name: 'tiny' -> 'small'" in err
    assert snapshot(run) == before
    assert json.loads((run / "checkpoints" / "config.json").read_text())["model"]["name"] == "tiny"
    assert checkpoints.load_checkpoint(run).step == 6  # evaluation still loads the run


def test_starting_below_existing_checkpoints_is_refused_before_any_work(run, capsys):
    before = snapshot(run)
    args = ["train", "--config", str(testing.TINY_CONFIG), "--workdir", str(run), "--no-resume",
            "--resume-from", str(run / "checkpoints" / "2"), *sets(COMMON)]
    assert cli.main(args) == 1
    assert "holds checkpoints of steps [4, 6], after the start step 2" in capsys.readouterr().err
    assert snapshot(run) == before


@pytest.mark.slow
def test_the_nan_report_names_a_verified_checkpoint(tmp_path):
    """Checkpoint 3 is damaged on disk right after its save; the run diverges at step 4. The
    last good checkpoint named must be 2, the newest one that passes its checksums."""
    from gato.train.loop import train_and_evaluate

    config = testing.tiny_config(
        *COMMON, "train.checkpoint_every=1", "optimizer.learning_rate=1e6",
        "optimizer.warmup_steps=3",
        "evaluators={'damage': {'type': 'damage_checkpoint', 'every': 1, 'options': {'step': 3}}}")
    with pytest.raises(FloatingPointError, match=r"at step 4.*last good checkpoint: step 2 "
                                                 r"\(verified"):
        train_and_evaluate(config, tmp_path)
