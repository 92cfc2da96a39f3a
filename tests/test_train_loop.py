"""End-to-end trainer tests on CPU: CLI run, kill -9 + exact resume, NaN stop, multi-device and
multi-process agreement. Tiny configs; heavier cases run in subprocesses with their own devices."""

import json
import pathlib
import signal
import subprocess
import time

import numpy as np
import pytest

from gato import cli
from gato.testing import train as testing

COMMON = ["train.total_steps=6", "train.checkpoint_every=2", "train.log_every=1",
          "train.seq_len=32", "train.peak_flops_per_device=1e9",
          "model.overrides={'num_layers': 1}"]
SMALL = ["train.total_steps=2", "train.seq_len=16", "train.log_every=1",
         "train.checkpoint_every=100", "train.peak_flops_per_device=1e9",
         "model.overrides={'num_layers': 1, 'dropout_rate': 0.1}"]


def sets(overrides):
    return [arg for item in overrides for arg in ("--set", item)]


def train_args(workdir, overrides):
    return ["--config", str(testing.TINY_CONFIG), "--workdir", str(workdir), *sets(overrides)]


def wait_for(path: pathlib.Path, proc: subprocess.Popen, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(f"training exited ({proc.returncode}) before {path} appeared")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"{path} did not appear within {timeout}s")
        time.sleep(0.2)


@pytest.mark.slow
def test_cli_trains_and_resumes_exactly_after_kill_9_and_sigterm(tmp_path, capsys):
    reference = tmp_path / "reference"
    assert cli.main(["train", *train_args(reference, COMMON)]) == 0
    assert (reference / "checkpoints" / "config.json").is_file()
    assert sorted(p.name for p in (reference / "checkpoints").iterdir() if p.name.isdigit()) == [
        "2", "4", "6"]
    assert list((reference / "tensorboard").glob("events.out.tfevents.*"))
    expected = testing.losses(reference)
    assert sorted(expected) == [1, 2, 3, 4, 5, 6]
    assert all(np.isfinite(v) for v in expected.values())
    per_task = testing.losses(reference, "train/loss/task_0")
    assert sorted(per_task) == sorted(expected)

    killed = tmp_path / "killed"
    slow = ["evaluators={'slow': {'type': 'gato.testing.train:sleep', 'every': 1}}"]
    proc = testing.gato_train(train_args(killed, COMMON + slow), stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    wait_for(killed / "checkpoints" / "2", proc)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL

    # Resume; SIGTERM during the first step's callback: the next step finishes and saves, and
    # the command exits 130 (not done), so a chained command (main, sweep) stops there too.
    term = ["evaluators={'drill': {'type': 'gato.testing.train:sigterm', 'every': 1}}"]
    assert cli.main(["train", *train_args(killed, COMMON + term)]) == 130
    assert "interrupted: stopped by signal after step" in capsys.readouterr().err
    starts = [r["step"] for r in testing.read_jsonl(killed / "metrics.jsonl")
              if "perf/peak_flops" in r]
    assert len(starts) == 2 and starts[1] in (2, 4)  # the second run resumed from a checkpoint
    assert (killed / "checkpoints" / str(starts[1] + 2)).is_dir()
    assert max(testing.losses(killed)) == starts[1] + 2  # stopped early, after saving

    assert cli.main(["train", *train_args(killed, COMMON)]) == 0
    resumed = testing.losses(killed)
    assert sorted(resumed) == sorted(expected)
    for step, loss in expected.items():
        assert resumed[step] == pytest.approx(loss, rel=1e-6), step


@pytest.mark.slow
def test_nan_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path):
    from gato.model import build
    from gato.train import checkpoint, setup
    from gato.train.loop import train_and_evaluate
    from gato.train.optimizer import make_optimizer

    config = testing.tiny_config(
        *COMMON, "optimizer.learning_rate=1e30", "optimizer.warmup_steps=3",
        "train.checkpoint_every=1")
    with pytest.raises(FloatingPointError, match="at step 2.*last good checkpoint: step 1"):
        train_and_evaluate(config, tmp_path)
    model, _ = build.build_model(config.model)
    mesh, rules = setup.setup_mesh(config)
    tx, _ = make_optimizer(config.optimizer, config.train.total_steps)
    abstract = setup.setup_state(model, tx, mesh, rules, config.train.seq_len).abstract
    directory = tmp_path / "checkpoints"
    assert sorted(p.name for p in directory.iterdir() if p.name.isdigit()) == ["1"]
    state, data_state = checkpoint.restore_from_path(directory, abstract)
    assert int(state.step) == 1 and data_state == {"step": 1}
    assert all(np.isfinite(np.asarray(x)).all() for x in testing.leaves(state.params))
    params = checkpoint.restore_params(directory / "1", abstract.params)  # --init-from path
    for a, b in zip(testing.leaves(params), testing.leaves(state.params), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_range_action_softmax_trains_with_the_same_text_loss(tmp_path):
    """train.action_softmax="range" through the trainer: same data and targets, the same text
    loss at step 1 (same params), a lower action loss (no mass outside the range), finite
    losses; bad settings are refused."""
    from gato.train.loop import train_and_evaluate

    metrics = {}
    for mode in ("vocab", "range"):
        train_and_evaluate(testing.tiny_config(*SMALL, f"train.action_softmax={mode!r}"),
                           tmp_path / mode)
        metrics[mode] = {row["step"]: row for row in testing.read_jsonl(
            tmp_path / mode / "metrics.jsonl") if "train/loss" in row}
    vocab, ranged = metrics["vocab"][1], metrics["range"][1]
    assert ranged["train/targets"] == vocab["train/targets"] > 0
    assert ranged["train/targets/text"] > 0 and ranged["train/targets/continuous"] > 0
    assert ranged["train/loss/text"] == pytest.approx(vocab["train/loss/text"], rel=1e-5)
    assert ranged["train/loss/continuous"] < vocab["train/loss/continuous"] - 1.0
    assert all(np.isfinite(row["train/loss"]) for row in metrics["range"].values())
    timed = [row for row in metrics["range"].values() if "train/tokens_per_s" in row]
    assert timed and all(row["perf/compiles"] >= 1 and row["perf/compile_s"] > 0
                         for row in timed)  # the step compiled at least once in the run
    with pytest.raises(ValueError, match="action_softmax='bins': expected one of"):
        train_and_evaluate(testing.tiny_config(*SMALL, "train.action_softmax='bins'"),
                           tmp_path / "bad")
    with pytest.raises(ValueError, match="needs train.loss_on_targets_only"):
        train_and_evaluate(testing.tiny_config(*SMALL, "train.action_softmax='range'",
                                               "train.loss_on_targets_only=False"),
                           tmp_path / "bad2")


@pytest.mark.slow
def test_losses_agree_on_1_2_4_and_8_devices_with_data_and_fsdp_axes(tmp_path):
    cases = {"1": {"num_devices": 1, "axes": [("data", -1), ("fsdp", 1)]},
             "2": {"num_devices": 2, "axes": [("data", -1), ("fsdp", 1)]},
             "4fsdp": {"num_devices": 4, "axes": [("data", 1), ("fsdp", -1)]},
             "8": {"num_devices": 8, "axes": [("data", -1), ("fsdp", 2)]}}
    code = ("import json; from gato.testing import train as testing; "
            f"print(json.dumps(testing.mesh_losses({cases!r}, {SMALL!r}, {str(tmp_path)!r})))")
    result = testing.last_json_line(testing.run_python(code, num_devices=8, timeout=600))
    reference = result["1"]
    assert sorted(reference) == ["1", "2"]
    for name, got in result.items():
        for step, loss in reference.items():
            assert got[step] == pytest.approx(loss, rel=2e-5), (name, step)


@pytest.mark.slow
def test_two_processes_train_together_and_report_the_same_losses(tmp_path):
    port = testing.free_port()
    procs = [testing.gato_train(
        [*train_args(tmp_path, SMALL), "--coordinator", f"localhost:{port}",
         "--num-processes", "2", "--process-id", str(i)],
        num_devices=2, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for i in range(2)]
    outputs = [p.communicate(timeout=400) for p in procs]
    for proc, (_, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err[-3000:]
    finals = [testing.last_json_line(out)["final"] for out, _ in outputs]
    assert finals[0]["step"] == finals[1]["step"] == 2
    assert finals[0]["train/loss"] == finals[1]["train/loss"]
    assert np.isfinite(finals[0]["train/loss"])
    logged = testing.losses(tmp_path)
    assert logged[2] == pytest.approx(finals[0]["train/loss"])
    assert json.loads((tmp_path / "checkpoints" / "config.json").read_text())["train"][
        "total_steps"] == 2


def test_profile_traces_the_window_and_attributes_op_time(tmp_path):
    """train.profile_start/steps trace exactly that window; the summary finds its steps, the
    loop's host spans, and the train step's executed ops by phase and model component."""
    from gato.train import profile
    from gato.train.loop import train_and_evaluate

    config = testing.tiny_config(*SMALL, "train.total_steps=4", "train.profile_start=2",
                                 "train.profile_steps=2")
    train_and_evaluate(config, tmp_path)
    assert list((tmp_path / "profile").glob("train_step_*.hlo.txt"))
    summary = profile.summarize(tmp_path / "profile")
    assert summary["steps"] == [2, 3]
    assert summary["wall_ms"] > 0 and summary["op_ms"] > 0 and summary["execution_ms"] > 0
    assert all(summary["host_ms"][name] > 0 for name in ("data", "batch", "dispatch"))
    assert {"forward", "backward", "update"} <= set(summary["phase_ms"])
    assert {"attention", "mlp", "optimizer & metrics"} <= set(summary["component_ms"])
    assert sum(summary["component_ms"].values()) == pytest.approx(summary["op_ms"])
    with pytest.raises(FileNotFoundError, match="train.profile_start > 0"):
        profile.summarize(tmp_path / "nothing")


def test_profile_classifies_ops_by_their_source():
    from gato.train.profile import classify, read_hlo_ops

    base = "jit(train_step)/transpose(jvp(Gato.target_logits))/Gato.hidden/decoder/while/body/"
    assert classify(base + "closed_call/layers/attention/query/dot_general") == (
        "backward", "attention")
    assert classify(base + "closed_call/layers/attention_norm/mul") == ("backward", "norms")
    assert classify("jit(train_step)/jvp(Gato.target_logits)/Gato.logits_from_hidden/"
                    "embed.attend/table.attend/dot_general") == ("forward", "output logits")
    assert classify("jit(train_step)/jvp()/reduce_sum") == ("forward", "loss")
    assert classify("jit(train_step)/mul") == ("update", "optimizer & metrics")
    text = ('  %ynn_fusion.3 = f32[8,64]{1,0} fusion(%a, %b), kind=kCustom, calls=%f, '
            'metadata={op_name="jit(train_step)/mul" stack_frame_id=4}\n'
            '  ROOT %while.2 = (s32[]) while(%t), condition=%c, body=%b\n')
    assert read_hlo_ops([text]) == {"ynn_fusion.3": ("fusion", "jit(train_step)/mul"),
                                    "while.2": ("while", "")}
