"""Fault-injection drill: bad input and damaged files against the real `gato` commands.

    .venv/bin/python -m benchmarks.faults --workdir /tmp/gato_faults

Generates a tiny dataset (2 control tasks, random policy), trains a reference run
(`experiments/gato_cpu.py:quick,steps=60`, checkpoints every 10 steps, the last 2 kept), then
runs each case end to end in subprocesses, exactly as a user would, and prints a table: case,
expected, got, ok. Exit status 0 when every case holds. docs/RELIABILITY.md lists the guarantees
these cases check; the unit tests of each are in tests/test_config_validation.py,
tests/test_checkpoint_integrity.py and tests/test_data_reliability.py.
"""

import argparse
import dataclasses
import hashlib
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable

import numpy as np

from gato.testing import faults

TASKS = "cartpole-swingup,pendulum-swingup"
STEPS = 60


@dataclasses.dataclass
class Result:
    case: str
    expected: str
    got: str
    ok: bool


def gato(*args: str, timeout: float = 1200) -> subprocess.CompletedProcess:
    """Runs `python -m gato.cli ARGS` on CPU; returns the finished process (text output)."""
    env = dict(os.environ, JAX_PLATFORMS="cpu", MUJOCO_GL="osmesa", PYOPENGL_PLATFORM="osmesa")
    return subprocess.run([sys.executable, "-m", "gato.cli", *args], env=env, text=True,
                          capture_output=True, timeout=timeout)


def error_line(proc: subprocess.CompletedProcess) -> str:
    """The last stderr line of a failed command ("" if it succeeded)."""
    lines = proc.stderr.strip().splitlines()
    return lines[-1] if proc.returncode and lines else ""


def one_line_error(proc: subprocess.CompletedProcess, command: str, *parts: str) -> bool:
    line = error_line(proc)
    return (proc.returncode == 1 and "Traceback" not in proc.stderr
            and line.startswith(f"gato {command}: error: ") and all(p in line for p in parts))


def short(text: str, width: int = 70) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."


def snapshot(root: pathlib.Path) -> dict[str, str]:
    return {str(p.relative_to(root)): "dir" if p.is_dir() else
            hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*"))}


def losses(workdir: pathlib.Path) -> dict[int, float]:
    rows = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
    return {r["step"]: r["train/loss"] for r in rows if "train/loss" in r}


def loss_steps(workdir: pathlib.Path) -> list[int]:
    rows = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
    return [r["step"] for r in rows if "train/loss" in r]


class Drill:
    """Shared set-up (data, reference run) and one method per case."""

    def __init__(self, root: pathlib.Path):
        self.root = root
        self.data = root / "data"
        self.bad_data = root / "data_bad"
        self.reference = root / "reference"
        self.train_args = [
            "--config", f"experiments/gato_cpu.py:quick,steps={STEPS}",
            "--set", f"data.data_dir={self.data}", "--set", f"data.tasks={TASKS}",
            "--set", f"eval.tasks={TASKS}", "--set", "train.peak_flops_per_device=1e9"]

    def train(self, workdir: pathlib.Path, *extra: str, data: pathlib.Path | None = None):
        args = list(self.train_args)
        if data is not None:
            args[args.index(f"data.data_dir={self.data}")] = f"data.data_dir={data}"
        return gato("train", *args, "--workdir", str(workdir), *extra)

    def copy_reference(self, name: str) -> pathlib.Path:
        return pathlib.Path(shutil.copytree(self.reference, self.root / name))

    def setup(self) -> None:
        proc = gato("generate", "--tasks", TASKS, "--episodes", "4", "--max-episode-steps", "50",
                    "--policy", "random", "--data-dir", str(self.data))
        if proc.returncode:
            raise RuntimeError(f"gato generate failed:\n{proc.stderr[-3000:]}")
        proc = self.train(self.reference)
        if proc.returncode:
            raise RuntimeError(f"reference run failed:\n{proc.stderr[-3000:]}")
        shutil.copytree(self.data, self.bad_data)
        (record_file,) = self.bad_data.glob("gato_control/cartpole-swingup/*/*.array_record-*")
        self.record_file = record_file
        self.readable = faults.corrupt_records(
            record_file, lambda: faults.readable_episodes("cartpole-swingup", self.bad_data))

    # ------------------------------------------------------------------ configs and errors
    def variant_typo(self) -> Result:
        proc = gato("train", "--config", "experiments/gato_cpu.py:quikc", "--workdir",
                    str(self.root / "typo"))
        ok = one_line_error(proc, "train", "'quikc'") and not (self.root / "typo").exists()
        return Result("variant typo :quikc", "exit 1, one line naming 'quikc', nothing written",
                      f"exit {proc.returncode}: {error_line(proc)}", ok)

    def negative_steps(self) -> Result:
        proc = gato("train", *self.train_args, "--set", "train.total_steps=-5", "--workdir",
                    str(self.root / "neg"))
        ok = one_line_error(proc, "train", "train.total_steps=-5") and not (
            self.root / "neg").exists()
        return Result("--set train.total_steps=-5", "exit 1, one line naming the key",
                      f"exit {proc.returncode}: {error_line(proc)}", ok)

    def negative_variant_steps(self) -> Result:
        proc = gato("train", "--config", "experiments/gato_cpu.py:quick,steps=-3", "--workdir",
                    str(self.root / "neg3"))
        ok = one_line_error(proc, "train", "train.total_steps=-3")
        return Result(":quick,steps=-3", "exit 1, one line naming the key",
                      f"exit {proc.returncode}: {error_line(proc)}", ok)

    def wrong_type(self) -> Result:
        proc = gato("train", *self.train_args, "--set", "data.prompt_fraction=lots",
                    "--workdir", str(self.root / "type"))
        ok = one_line_error(proc, "train", "data.prompt_fraction")
        return Result("--set data.prompt_fraction=lots", "exit 1, one line naming the key",
                      f"exit {proc.returncode}: {error_line(proc)}", ok)

    def unknown_task_generate(self) -> Result:
        proc = gato("generate", "--tasks", "cartpole-swingupp", "--data-dir",
                    str(self.root / "nodata"))
        ok = one_line_error(proc, "generate", "unknown task 'cartpole-swingupp'")
        return Result("generate --tasks cartpole-swingupp", "exit 1, one line, no traceback",
                      f"exit {proc.returncode}: {error_line(proc)}", ok)

    def missing_config(self) -> Result:
        proc = gato("train", "--config", "experiments/nope.py", "--workdir",
                    str(self.root / "nope"))
        ok = one_line_error(proc, "train", "nope.py")
        return Result("train --config experiments/nope.py", "exit 1, one line, no traceback",
                      f"exit {proc.returncode}: {error_line(proc)}", ok)

    # ------------------------------------------------------------------ checkpoints
    def changed_model(self) -> Result:
        run = self.copy_reference("changed_model")
        before = snapshot(run)
        proc = self.train(run, "--set", "model.name=small")
        unchanged = snapshot(run) == before
        offline = gato("offline", "--checkpoint", str(run), "--data-dir", str(self.data),
                       "--windows", "2")
        ok = (one_line_error(proc, "train", "another model", "model.name: 'tiny' -> 'small'")
              and unchanged and offline.returncode == 0)
        return Result("resume with model.name=small",
                      "exit 1 naming the change; workdir byte-identical; still loads",
                      f"exit {proc.returncode}, workdir {'unchanged' if unchanged else 'CHANGED'}"
                      f", offline on it exit {offline.returncode}", ok)

    def _fallback(self, name: str, damage: Callable[[pathlib.Path], object], label: str,
                  what: str) -> Result:
        run = self.copy_reference(name)
        damage(run / "checkpoints" / str(STEPS))
        proc = self.train(run)
        reported = f"checkpoints/{STEPS} (step {STEPS}) is damaged" in proc.stderr
        moved = (run / "checkpoints_damaged" / str(STEPS)).is_dir()
        want, got = losses(self.reference), losses(run)
        exact = got == want and loss_steps(run) == sorted(set(loss_steps(run)))
        ok = proc.returncode == 0 and reported and moved and exact
        return Result(label, f"{what}: reported by path and step, resumes from step {STEPS - 10}"
                             ", same losses",
                      f"exit {proc.returncode}, reported {reported}, moved aside {moved}, "
                      f"losses identical {exact}", ok)

    def flipped_byte(self) -> Result:
        return self._fallback(
            "flipped", lambda d: faults.flip_byte(faults.params_data_files(d)[0], mask=0x40),
            "1 byte flipped in newest params", "checksum mismatch")

    def truncated_params(self) -> Result:
        return self._fallback("truncated", lambda d: faults.truncate(
            faults.params_data_files(d)[0]), "newest params file truncated", "unreadable")

    def truncated_meta_fail(self) -> Result:
        run = self.copy_reference("meta_fail")
        faults.truncate(run / "checkpoints" / str(STEPS) / "meta" / "metadata")
        proc = self.train(run, "--set", "checkpoint.on_damaged=fail")
        ok = one_line_error(proc, "train", f"checkpoints/{STEPS} (step {STEPS}) is damaged",
                            "meta")
        return Result("meta/metadata truncated, on_damaged=fail",
                      "exit 1, one line naming checkpoint dir, step, meta",
                      f"exit {proc.returncode}: {error_line(proc)}", ok)

    def eval_damaged(self) -> Result:
        run = self.copy_reference("eval_damaged")
        faults.flip_byte(faults.params_data_files(run / "checkpoints" / str(STEPS))[0],
                         mask=0x40)
        proc = gato("offline", "--checkpoint", str(run), "--data-dir", str(self.data),
                    "--windows", "2")
        ok = one_line_error(proc, "offline", f"(step {STEPS}) is damaged")
        return Result("offline on a flipped checkpoint", "exit 1, one line naming the step",
                      f"exit {proc.returncode}: {error_line(proc)}", ok)

    # ------------------------------------------------------------------ data
    def offline_corrupt(self) -> Result:
        out = self.root / "offline_bad.json"
        proc = gato("offline", "--checkpoint", str(self.reference), "--data-dir",
                    str(self.bad_data), "--tasks", "cartpole-swingup", "--windows", "4",
                    "--out", str(out))
        skipped = json.loads(out.read_text())["tasks"]["cartpole-swingup"]["skipped"] if (
            proc.returncode == 0) else None
        failing = gato("offline", "--checkpoint", str(self.reference), "--data-dir",
                       str(self.bad_data), "--tasks", "cartpole-swingup", "--windows", "4",
                       "--on-bad-episode", "fail")
        named = one_line_error(failing, "offline", "task 'cartpole-swingup'", "split 'train'",
                               str(self.record_file), "episode")
        ok = proc.returncode == 0 and bool(skipped) and named
        return Result("offline on a corrupt record file",
                      "skip: counted; fail: one line naming task, split, file, episode",
                      f"skip: exit {proc.returncode}, skipped {skipped}; fail: exit "
                      f"{failing.returncode}, names all {named}", ok)

    def eval_corrupt(self) -> Result:
        bad = [i for i, ok in enumerate(self.readable) if not ok]
        episodes = next(n for n in range(1, 33) if any(
            int(np.random.default_rng(s).integers(len(self.readable))) in bad
            for s in range(n)))  # enough episodes that one draws a bad demonstration
        out = self.root / "eval_bad"
        proc = gato("eval", "--checkpoint", str(self.reference), "--tasks", "cartpole-swingup",
                    "--episodes", str(episodes), "--batch-size", str(episodes), "--max-steps",
                    "5", "--no-gif", "--data-dir", str(self.bad_data), "--out", str(out))
        warnings = (json.loads((out / "results.json").read_text())["warnings"]
                    if proc.returncode == 0 else [])
        listed = [w for w in warnings if w.startswith("bad episode: task 'cartpole-swingup'")]
        ok = proc.returncode == 0 and bool(listed) and "split 'train'" in listed[0]
        return Result("eval prompts from a corrupt record file",
                      "skipped, listed in results.json warnings",
                      f"exit {proc.returncode}, {len(listed)} listed: "
                      f"{short(listed[0] if listed else '', 40)}", ok)

    def train_counts_bad(self) -> Result:
        proc = self.train(self.root / "bad_train", "--set", "train.total_steps=10",
                          data=self.bad_data)
        final = (json.loads(proc.stdout.strip().splitlines()[-1])["final"]
                 if proc.returncode == 0 else {})
        count = final.get("data/bad_episode_skips")
        rows = [json.loads(line) for line in
                (self.root / "bad_train" / "metrics.jsonl").read_text().splitlines()]
        in_metrics = any(r.get("data/bad_episode_skips") for r in rows)
        ok = proc.returncode == 0 and bool(count) and in_metrics
        return Result("train on a corrupt record file",
                      "skips counted in metrics.jsonl and the final summary",
                      f"exit {proc.returncode}, final data/bad_episode_skips={count}, "
                      f"in metrics {in_metrics}", ok)

    # ------------------------------------------------------------------ processes
    def kill_9(self) -> Result:
        run = self.root / "killed"
        env = dict(os.environ, JAX_PLATFORMS="cpu")
        proc = subprocess.Popen([sys.executable, "-m", "gato.cli", "train", *self.train_args,
                                 "--workdir", str(run)], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 900
        while not (run / "checkpoints" / "20").is_dir() and time.monotonic() < deadline:
            time.sleep(0.2)
        descendants = faults.children(proc.pid)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        left = faults.wait_until_gone(descendants, timeout=10)
        for pid in left:
            os.kill(pid, signal.SIGKILL)
        resumed = self.train(run)
        steps = loss_steps(run)
        exact = losses(run) == losses(self.reference)
        ok = not left and resumed.returncode == 0 and steps == sorted(set(steps)) and exact
        return Result("kill -9 after checkpoint 20, resume",
                      "children end with it; no duplicate metrics rows; same losses",
                      f"{len(descendants)} children, {len(left)} left after 10 s; rows unique "
                      f"{steps == sorted(set(steps))}; losses identical {exact}", ok)


CASES = ("variant_typo", "negative_steps", "negative_variant_steps", "wrong_type",
         "unknown_task_generate", "missing_config", "changed_model", "flipped_byte",
         "truncated_params", "truncated_meta_fail", "eval_damaged", "offline_corrupt",
         "eval_corrupt", "train_counts_bad", "kill_9")


def format_table(results: list[Result]) -> str:
    rows = [("case", "expected", "got", "ok")] + [
        (r.case, short(r.expected), short(r.got, 90), "yes" if r.ok else "NO") for r in results]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return "\n".join(" | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True))
                     for row in rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", required=True, help="scratch directory (emptied first)")
    parser.add_argument("--cases", default=",".join(CASES), help="comma-separated subset")
    args = parser.parse_args()
    root = pathlib.Path(args.workdir).absolute()
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    drill = Drill(root)
    started = time.perf_counter()
    drill.setup()
    results = []
    for name in args.cases.split(","):
        results.append(getattr(drill, name)())
        print(f"{name}: {'ok' if results[-1].ok else 'FAILED'} ({results[-1].got})", flush=True)
    print(format_table(results))
    print(f"{sum(r.ok for r in results)} of {len(results)} cases hold; "
          f"{(time.perf_counter() - started) / 60:.1f} min")
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
