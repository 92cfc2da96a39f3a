"""Bad data and killed processes: `gato offline` and `gato eval` follow training's bad-episode
policy and name task, split, file and episode; skipped episodes are counted in the metrics and the
final summary; worker processes end with a killed parent; a resumed run's metrics have each step
once."""

import json
import signal
import subprocess
import sys

import pytest

from gato import cli
from gato.envs.registry import Task
from gato.testing import faults
from gato.testing import pipeline as fakes
from gato.testing import train as testing

TASK = "cartpole-swingup"


@pytest.fixture(scope="module")
def corrupt_data(tmp_path_factory):
    """A generated dataset of 6 episodes whose record file is damaged: some episodes unreadable."""

    root = tmp_path_factory.mktemp("data")
    assert cli.main(["generate", "--tasks", TASK, "--episodes", "6", "--max-episode-steps", "12",
                     "--policy", "random", "--data-dir", str(root)]) == 0
    (record_file,) = root.glob(f"gato_control/{TASK}/*/*.array_record-*")

    readable = faults.corrupt_records(record_file,
                                      lambda: faults.readable_episodes(TASK, root))
    return root, record_file, readable


def test_offline_skips_bad_episodes_naming_task_split_file_and_episode(corrupt_data, tmp_path,
                                                                      capsys):
    from gato.testing.eval import save_random_checkpoint

    root, record_file, readable = corrupt_data
    save_random_checkpoint(tmp_path / "run", data={"source": "mixture", "suites": "",
                                                   "tasks": TASK, "on_bad_episode": "skip"})
    out = tmp_path / "offline.json"
    args = ["offline", "--checkpoint", str(tmp_path / "run"), "--data-dir", str(root),
            "--tasks", TASK, "--windows", "6", "--out", str(out)]
    assert cli.main(args) == 0
    record = json.loads(out.read_text())
    bad = readable.index(False)
    assert record["tasks"][TASK]["skipped"] == readable.count(False)
    assert record["tasks"][TASK]["windows"] == 6
    message = next(m for m in record["bad_episodes"] if f"episode {bad}:" in m)
    for part in (f"task '{TASK}'", "split 'train'", f"file {record_file}", f"record {bad}"):
        assert part in message, message
    assert "skipped" in capsys.readouterr().out

    assert cli.main([*args, "--on-bad-episode", "fail"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("gato offline: error: bad episode: ") and len(err.splitlines()) == 1
    assert f"task '{TASK}'" in err and "split 'train'" in err and str(record_file) in err


def test_offline_follows_the_runs_policy_by_default(corrupt_data, tmp_path, capsys):
    from gato.testing.eval import save_random_checkpoint

    root, _, _ = corrupt_data
    save_random_checkpoint(tmp_path / "run", data={"source": "mixture", "suites": "",
                                                   "tasks": TASK, "on_bad_episode": "fail"})
    assert cli.main(["offline", "--checkpoint", str(tmp_path / "run"), "--data-dir", str(root),
                     "--tasks", TASK, "--windows", "6"]) == 1
    assert "bad episode" in capsys.readouterr().err


def test_eval_prompts_skip_bad_demonstrations_or_fail():
    from gato.data.pipeline.windows import BadEpisodeError
    from gato.eval.prompts import PromptSource

    task = Task(name="walk", suite="control", spec=fakes.CONTROL_SPEC, make_env=None,
                max_episode_steps=10)
    source = fakes.RecordingSource(fakes.control_episodes(3), broken=[0], corrupt=[1])
    prompts = PromptSource(task, source, "end", 16, where="data_dir D, split 'train'")
    batch = prompts.prompt(list(range(12)))  # seeds 0..11 draw every demonstration
    assert batch is not None and batch["tokens"].shape == (12, 16)
    assert any("episode 0: OSError" in m for m in prompts.skipped)
    assert any("episode 1: BadEpisodeError" in m for m in prompts.skipped)
    assert all("task 'walk' (data_dir D, split 'train')" in m for m in prompts.skipped)
    strict = PromptSource(task, source, "end", 16, on_bad_episode="fail")
    with pytest.raises(BadEpisodeError, match="task 'walk' .*episode [01]"):
        strict.prompt(list(range(8)))


def test_skipped_bad_episodes_are_counted_in_metrics_and_the_final_summary(tmp_path):
    from gato.data.pipeline import sources
    from gato.train.loop import train_and_evaluate

    sources.register("bad_fake", "gato.testing.faults:bad_episode_iterator")
    config = testing.tiny_config("train.total_steps=2", "train.seq_len=32", "train.log_every=1",
                                 "train.peak_flops_per_device=1e9", "data.source='bad_fake'",
                                 "model.overrides={'num_layers': 1}")
    final = train_and_evaluate(config, tmp_path)
    assert final["data/bad_episode_skips"] > 0
    rows = [r for r in testing.read_jsonl(tmp_path / "metrics.jsonl") if "train/loss" in r]
    assert [r["data/bad_episode_skips"] > 0 for r in rows] == [True, True]


def test_a_resumed_run_drops_the_metrics_rows_it_will_redo(tmp_path):
    from gato.train.metrics import MetricsWriter

    writer = MetricsWriter(tmp_path, enabled=True)
    for step in range(6):
        writer.write(step, {"train/loss": float(step)})
    writer.close()
    with open(tmp_path / "metrics.jsonl", "a") as f:
        f.write('{"step": 6, "train/lo')  # a line cut short by kill -9
    writer = MetricsWriter(tmp_path, enabled=True, resume_step=3)
    writer.write(4, {"train/loss": 40.0})
    writer.close()
    rows = testing.read_jsonl(tmp_path / "metrics.jsonl")
    assert [(r["step"], r["train/loss"]) for r in rows] == [(0, 0.0), (1, 1.0), (2, 2.0),
                                                              (3, 3.0), (4, 40.0)]


WORKER_SCRIPT = """
import time
from gato.config import section
from gato.data.pipeline import loader
from gato.testing import pipeline as fakes
config = section("data")
config.worker_count = 1
it = loader.build_iterator(fakes.fake_tasks(32), config, batch_size=2, seq_len=32, seed=0)
next(it)
print("ready", flush=True)
time.sleep(300)
"""


@pytest.mark.slow
def test_data_workers_and_the_resource_tracker_end_after_kill_9_of_their_parent():
    proc = subprocess.Popen([sys.executable, "-c", WORKER_SCRIPT], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, env=testing.device_env(1))
    try:
        assert proc.stdout.readline().strip() == "ready"
        descendants = faults.children(proc.pid)
        assert descendants  # the grain worker (and multiprocessing's resource tracker)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    left = faults.wait_until_gone(descendants, timeout=10)
    for pid in left:  # do not leave them behind when the test fails
        subprocess.run(["kill", "-9", str(pid)], check=False)
    assert not left, f"orphans after kill -9: {left}"
