"""Where the main job's train step spends its time: a jax.profiler trace of real steps.

    python -m benchmarks.step_profile --data-dir runs/main/data [--config gato_cpu]
        [--start 40] [--steps 10] [--out runs/step_profile]

Runs the config's own `train_and_evaluate` on its data for start + steps - 1 steps (no
in-training evaluators) with train.profile_start = start, so steps start .. start + steps - 1
are traced after the first compilations (gato.train.profile). Prints per step: wall time, the
host-side spans of the loop (`data`: waiting for the next batch, `batch`: target/image index
bucketing and the transfer, `dispatch`: handing the step to XLA, `report`: fetching the previous
step's metrics, which waits for that step to finish), the XLA op time by phase (forward,
backward, optimizer update) and by model component, and the costliest ops with their source.
The compilations of the whole run are the loop's own perf/compiles. Writes summary.json and
the trace (open the .json.gz at ui.perfetto.dev) under --out. Run it on an idle machine: the
figures are times, and anything else on the cores shows up in them.
"""

import argparse
import json
import pathlib
import shutil

from gato.config import apply_overrides, load_config
from gato.train.loop import train_and_evaluate
from gato.train.profile import summarize


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="gato_cpu")
    parser.add_argument("--data-dir", required=True, help="generated data (gato main's data/)")
    parser.add_argument("--start", type=int, default=40, help="first traced step")
    parser.add_argument("--steps", type=int, default=10, help="steps traced")
    parser.add_argument("--out", default="runs/step_profile", help="workdir of the run")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="config overrides, as `gato train --set`")
    args = parser.parse_args()
    out = pathlib.Path(args.out)
    config = apply_overrides(load_config(args.config), [
        f"train.total_steps={args.start + args.steps - 1}", f"train.profile_start={args.start}",
        f"train.profile_steps={args.steps}", *args.set])
    config.data.data_dir = args.data_dir
    config.evaluators = type(config.evaluators)()
    if out.exists():  # a fresh run: a checkpoint there would resume past the window
        if not out.is_dir() or (any(out.iterdir()) and not (out / "profile").exists()):
            raise SystemExit(f"step_profile: error: --out {out} holds something other than an "
                             "earlier profile run; give an empty or new folder")
        shutil.rmtree(out)
    last = train_and_evaluate(config, out)
    summary = summarize(out / "profile") | {
        "config": args.config, "compiles": last.get("perf/compiles"),
        "compile_s": last.get("perf/compile_s"), "loop_tokens_per_s":
        last.get("train/tokens_per_s")}
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    n = len(summary["steps"])
    print(f"{args.config}: steps {summary['steps'][0]}-{summary['steps'][-1]} traced; "
          f"wall {summary['wall_ms']:.0f} ms/step, execution {summary['execution_ms']:.0f} "
          f"ms (median), XLA ops {summary['op_ms']:.0f} ms/step (summed over threads); "
          f"{summary['compiles']:.0f} compilations in the run "
          f"({summary['compile_s']:.0f} s)")
    print("host spans (ms/step): " + ", ".join(
        f"{k} {v:.1f}" for k, v in summary["host_ms"].items()))
    for key in ("phase_ms", "component_ms"):
        print(f"{key[:-3]}:")
        for name, ms in summary[key].items():
            print(f"  {name:<22} {ms:8.1f} ms  {ms / summary['op_ms']:6.1%}")
    print(f"costliest ops (ms/step over {n} steps):")
    for op in summary["top_ops"]:
        print(f"  {op['ms']:7.1f}  {op['op']:<28} {op['opcode']:<10} {op['op_name'][-90:]}")
    print(f"summary: {out / 'summary.json'}")


if __name__ == "__main__":
    main()
