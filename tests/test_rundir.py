"""The run folder (gato.rundir): its paths, the lock a training job holds, and a checkpoint save
that runs out of disk space. The probes of issue 39, as a user meets them: a second `gato train`
on a held workdir, a stale lock, a full disk."""

import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import textwrap

import pytest

from gato import cli
from gato.errors import RunDirInUseError, message
from gato.rundir import RunDir
from gato.testing import faults
from gato.testing import train as testing
from gato.train.disk_space import mount_point

TINY = ["train.total_steps=2", "train.checkpoint_every=1", "train.log_every=1",
        "train.seq_len=16", "train.peak_flops_per_device=1e9",
        "model.overrides={'num_layers': 1, 'max_len': 16}"]
HOLD = textwrap.dedent("""
    import sys, time
    from gato.rundir import RunDir
    with RunDir(sys.argv[1]).hold():
        print("held", flush=True)
        time.sleep(120)
""")


def train(workdir: pathlib.Path, *overrides: str) -> int:
    args = ["train", "--config", str(testing.TINY_CONFIG), "--workdir", str(workdir)]
    return cli.main(args + [a for o in (*TINY, *overrides) for a in ("--set", o)])


def holder(workdir: pathlib.Path) -> subprocess.Popen:
    """Another process holding `workdir`, as a running `gato train` does."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(workdir)], stdout=subprocess.PIPE,
                            text=True, env=testing.device_env(1))
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_the_paths_of_a_run_folder(tmp_path):
    run = RunDir(tmp_path / "run")
    assert run.checkpoints == tmp_path / "run" / "checkpoints"
    assert run.config_json == run.checkpoints / "config.json"
    assert run.damaged_checkpoints == tmp_path / "run" / "checkpoints_damaged"
    assert (run.metrics, run.tensorboard, run.profile) == (
        run.root / "metrics.jsonl", run.root / "tensorboard", run.root / "profile")
    assert run.results(20) == run.root / "eval" / "step_20" / "results.json"
    assert RunDir.of(run.checkpoints) == run == RunDir.of(run.root) == RunDir(str(run.root))
    assert pathlib.Path(run) == run.root  # a RunDir goes where a path does
    assert run.evaluated_steps() == []
    for step in (100, 20, 3):
        run.results(step).parent.mkdir(parents=True)
        run.results(step).write_text("{}")
    run.eval_dir(7).mkdir()  # begun, not finished: no results.json
    (run.root / "eval" / "step_x").mkdir()
    assert run.evaluated_steps() == [3, 20, 100]


def test_a_second_train_on_a_held_workdir_is_refused_in_one_line(tmp_path, capsys):
    workdir = tmp_path / "run"
    proc = holder(workdir)
    try:
        assert train(workdir) == 1
        err = capsys.readouterr().err.strip().splitlines()
        line = err[-1]
        assert line.startswith("gato train: error: ") and len(err) == 1, err
        assert f"in use by pid {proc.pid} on host {socket.gethostname()} since 20" in line
        assert "use another --workdir" in line
        assert sorted(p.name for p in workdir.iterdir()) == [".lock"]  # nothing of its own
        assert json.loads((workdir / ".lock").read_text())["pid"] == proc.pid
    finally:
        proc.kill()
        proc.wait()


def test_a_stale_lock_is_taken_over_and_released(tmp_path, caplog):
    run = RunDir(tmp_path / "run")
    proc = holder(run.root)
    proc.send_signal(signal.SIGKILL)  # dies holding it: the lock stays behind
    proc.wait()
    assert run.holder().pid == proc.pid
    with run.hold():
        assert run.holder().pid == os.getpid()
        # the same folder twice in one process is refused too
        with pytest.raises(RunDirInUseError, match=f"in use by pid {os.getpid()}"), run.hold():
            pass
    assert f"taking over the lock of pid {proc.pid}" in caplog.text
    assert not run.lock.exists()
    reused = {"pid": os.getppid(), "host": socket.gethostname(), "started": "2020-01-01 00:00:00"}
    run.lock.write_text(json.dumps(reused))  # a live pid, but started after the lock: reused
    with run.hold():
        assert run.holder().pid == os.getpid()


def test_the_lock_is_released_on_errors_and_one_of_another_host_is_kept(tmp_path):
    run = RunDir(tmp_path / "run")
    with pytest.raises(KeyError), run.hold():
        raise KeyError("a failed run")
    assert not run.lock.exists()
    run.lock.write_text(json.dumps({"pid": 1, "host": "node-7", "started": "2026-12-07 14:03:11"}))
    with pytest.raises(RunDirInUseError) as refused, run.hold():
        pass
    assert message(refused.value) == (
        f"{run.root} is in use by pid 1 on host node-7 since 2026-12-07 14:03:11; wait for it "
        f"or use another --workdir (if it no longer runs, delete {run.lock})")
    with run.hold(enabled=False):  # the other processes of a multi-host job
        pass
    assert run.lock.exists()


# TensorStore completes writes after Orbax's event loop gave up on them (as on a real full disk)
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_save_that_fills_the_disk_names_it_and_leaves_no_partial_checkpoint(tmp_path,
                                                                               capsys):
    workdir = tmp_path / "run"
    with faults.disk_full(lambda spec: "/2.orbax-checkpoint-tmp/" in spec) as failed:
        assert train(workdir) == 1
    assert failed, "the save of step 2 never wrote"
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert line.startswith("gato train: error: the checkpoint of step 2 was not saved: no space "
                           f"left on the disk at {mount_point(workdir)} ("), line
    assert " free of " in line and f"which holds {workdir / 'checkpoints'}" in line
    assert "removed the partial 2.orbax-checkpoint-tmp" in line
    assert "older checkpoints are intact (latest: step 1)" in line
    assert not list(workdir.rglob("*orbax-checkpoint-tmp*"))
    assert sorted(p.name for p in (workdir / "checkpoints").iterdir()) == ["1", "config.json"]
    from gato.eval.checkpoints import load_checkpoint

    assert load_checkpoint(workdir).step == 1  # restores and passes its checksums
    assert not (workdir / ".lock").exists()


def _tmpfs_available() -> bool:
    if not shutil.which("unshare"):
        return False
    probe = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "sh", "-c",
                            "mount -t tmpfs -o size=1m tmpfs /mnt"], capture_output=True)
    return probe.returncode == 0


@pytest.mark.slow
@pytest.mark.skipif(not _tmpfs_available(), reason="needs unshare and a tmpfs mount")
def test_a_real_full_tmpfs(tmp_path):
    """The same on a 40 MiB tmpfs (a tiny checkpoint is about 24 MiB): Orbax's own error."""
    mount = tmp_path / "disk"
    mount.mkdir()
    sets = " ".join(f'--set "{o}"' for o in TINY)
    script = (f"mount -t tmpfs -o size=40m tmpfs {mount} && {sys.executable} -m gato.cli train "
              f"--config {testing.TINY_CONFIG} --workdir {mount}/run {sets}; "
              f"echo rc=$?; ls -a {mount}/run/checkpoints")
    proc = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script],
                          capture_output=True, text=True, env=testing.device_env(1),
                          timeout=600)
    # Orbax logs its writer threads' tracebacks too (some at exit, after the command's line)
    [line] = [s for s in proc.stderr.splitlines() if s.startswith("gato train: error:")]
    assert line.startswith(f"gato train: error: the checkpoint of step 2 was not saved: no "
                           f"space left on the disk at {mount} ("), line
    listing = proc.stdout.split("rc=")[-1].split()
    assert listing[0] == "1" and "orbax-checkpoint-tmp" not in proc.stdout
    assert sorted(listing[1:]) == [".", "..", "1", "config.json"]
