"""The main job's train step at two git revisions, side by side in one run, as ratios.

    python -m benchmarks.revisions --base main~3 --data-dir runs/main/data \\
        [--head WORKTREE_OR_REF] [--config gato_cpu] [--steps 150] [--warmup 50] [--repeats 2]

The config is each revision's own experiments/NAME.py.

Each revision is checked out once as a detached git worktree (under --scratch) unless it is a
folder already (default --head: this checkout, as it is on disk). Then `gato train` runs the same
config on the same data in each, alternating base, head, base, head, ... so that a machine
getting slower or faster mid-run hits both alike. A run's step time is the median over its
logged intervals after --warmup steps (train/tokens_per_s: wall time per step, host work and
data included; the first steps compile). Also read per run, from the child's resource usage:
CPU seconds in user and kernel mode, and minor page faults per step. Prints one row per run, then
head / base ratios of the medians. A speed claim is such a ratio, with the machine's step time.
Run it on an idle machine: anything else on the cores shows up in the figures.
"""

import argparse
import json
import os
import pathlib
import resource
import statistics
import subprocess
import sys
import tempfile
import time


def checkout(repo: pathlib.Path, revision: str, scratch: pathlib.Path) -> pathlib.Path:
    """A folder holding `revision`: the folder itself if it is one, else a detached worktree."""
    if pathlib.Path(revision).is_dir():
        return pathlib.Path(revision).resolve()
    commit = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "--verify", revision + "^{commit}"],
        check=True, capture_output=True, text=True).stdout.strip()
    tree = scratch / f"rev_{commit[:10]}"
    if not tree.exists():
        subprocess.run(["git", "-C", str(repo), "worktree", "add", "--detach", str(tree), commit],
                       check=True, capture_output=True)
    return tree


def run_once(tree: pathlib.Path, args: argparse.Namespace, workdir: pathlib.Path,
             tokens_per_step: int) -> dict:
    """One `gato train` of the config in `tree`; its step time, CPU split and page faults."""
    overrides = [f"train.total_steps={args.steps}", "train.log_every=10",
                 f"train.checkpoint_every={args.steps}", *args.overrides]
    if args.data_dir:
        overrides.insert(0, f"data.data_dir={str(pathlib.Path(args.data_dir).resolve())!r}")
    command = [sys.executable, "-c", "import sys; from gato.cli import main; sys.exit(main())",
               "train", "--config", config_file(args.config), "--workdir", str(workdir)]
    for item in overrides:
        command += ["--set", item]
    env = os.environ | {"PYTHONPATH": str(tree), "MUJOCO_GL": os.environ.get("MUJOCO_GL",
                                                                              "osmesa")}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode:
        raise SystemExit(f"gato train failed in {tree}:\n{done.stderr[-3000:]}")
    rows = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
    timed = [r for r in rows if "train/tokens_per_s" in r and r["step"] > args.warmup]
    if not timed:
        raise SystemExit(f"no train/tokens_per_s after step {args.warmup} in {workdir}")
    steps = [tokens_per_step / r["train/tokens_per_s"] for r in timed]
    user, system = after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime
    return {"step_s": statistics.median(steps), "wall_s": wall, "user_s": user,
            "system_s": system, "system_share": system / max(user + system, 1e-9),
            "minor_faults_per_step": (after.ru_minflt - before.ru_minflt) / args.steps}


def config_file(config: str) -> str:
    """experiments/NAME.py[:variant] for a bare NAME[:variant], so each revision reads its own
    experiment file (the installed package's would be the same for both)."""
    name, sep, variant = config.partition(":")
    return config if name.endswith(".py") else f"experiments/{name}.py{sep}{variant}"


def _tokens_per_step(tree: pathlib.Path, args: argparse.Namespace) -> int:
    """batch_size * seq_len of the config as `tree` reads it (with the overrides)."""
    code = ("import sys; from gato.config import apply_overrides, load_config; "
            "c = apply_overrides(load_config(sys.argv[1]), sys.argv[2:]); "
            "print(c.train.batch_size * c.train.seq_len)")
    out = subprocess.run([sys.executable, "-c", code, config_file(args.config), *args.overrides],
                         cwd=tree,
                         env=os.environ | {"PYTHONPATH": str(tree)}, check=True,
                         capture_output=True, text=True)
    return int(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base", required=True, help="git revision (or folder) to compare with")
    parser.add_argument("--head", default=".", help="git revision or folder (default: this tree)")
    parser.add_argument("--data-dir", default=None,
                        help="the config's data (gato main's data); omit for synthetic configs")
    parser.add_argument("--config", default="gato_cpu", help="NAME[:variant] or a file")
    parser.add_argument("--steps", type=int, default=150, help="train steps per run")
    parser.add_argument("--warmup", type=int, default=50, help="steps left out (compilation)")
    parser.add_argument("--repeats", type=int, default=2, help="runs per revision, alternating")
    parser.add_argument("--scratch", default=None, help="worktrees and workdirs (default: temp)")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE", help="config override for both revisions")
    args = parser.parse_args()
    if args.warmup >= args.steps:
        raise SystemExit(f"--warmup {args.warmup} must be below --steps {args.steps}")
    repo = pathlib.Path(__file__).resolve().parents[1]
    scratch = pathlib.Path(args.scratch or tempfile.mkdtemp(prefix="gato_revisions_"))
    scratch.mkdir(parents=True, exist_ok=True)
    trees = {"base": checkout(repo, args.base, scratch), "head": checkout(repo, args.head, scratch)}
    tokens = {name: _tokens_per_step(tree, args) for name, tree in trees.items()}
    results: dict[str, list[dict]] = {"base": [], "head": []}
    print(f"base {args.base} ({trees['base']}), head {args.head} ({trees['head']}); "
          f"{args.config}, {args.steps} steps per run, median after step {args.warmup}",
          flush=True)
    for repeat in range(args.repeats):
        for name in ("base", "head"):
            r = run_once(trees[name], args, scratch / f"{name}_{repeat}", tokens[name])
            results[name].append(r)
            print(f"{name} run {repeat}: {r['step_s']:.3f} s/step, wall {r['wall_s']:.0f} s, "
                  f"CPU user {r['user_s']:.0f} s + kernel {r['system_s']:.0f} s "
                  f"({r['system_share']:.1%} kernel), "
                  f"{r['minor_faults_per_step']:.0f} minor page faults per step", flush=True)
    med = {n: statistics.median(r["step_s"] for r in rs) for n, rs in results.items()}
    kernel = {n: statistics.median(r["system_share"] for r in rs) for n, rs in results.items()}
    print(f"step time: base {med['base']:.3f} s, head {med['head']:.3f} s; "
          f"head is {med['base'] / med['head']:.2f}x as fast as base; kernel share of CPU time: "
          f"base {kernel['base']:.1%}, head {kernel['head']:.1%}")


if __name__ == "__main__":
    main()
