"""The main job's train step under model options, side by side on the same fixed batches.

    python -m benchmarks.step_options --data-dir runs/main/data \\
        --options "" "attention_blocks=4" "remat='dots_saveable'" [--config gato_cpu] [--repeats 2]

Each option set (comma-separated ModelConfig fields, applied over the config's
model.overrides; "" is the config as it is) runs in its own process: the config's real train
step on the first 6 batches of one shape drawn from its data (no recompilation, no data
pipeline in the timing), one step to compile, then 3 passes over them. Prints the median step
time per run, runs interleaved across option sets, then each set's mean over runs as a ratio
to the first set. Lower noise than a training run (`benchmarks.revisions`), which also times
the data pipeline and the bucketed shapes' compilations. Run it on an idle machine.
"""

import argparse
import ast
import dataclasses
import json
import statistics
import subprocess
import sys
import time

import ml_collections
import numpy as np


def options_dict(text: str, prog: str = "step_options") -> dict:
    """'a=1,b='x'' -> {"a": 1, "b": "x"}; SystemExit naming the item (and `prog`) if it is not
    a ModelConfig field = a Python literal."""
    from gato.model.config import ModelConfig

    fields, options = {f.name for f in dataclasses.fields(ModelConfig)}, {}
    for item in (item for item in text.split(",") if item.strip()):
        key, sep, value = (part.strip() for part in item.partition("="))
        try:
            if not sep or key not in fields:
                raise ValueError
            options[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            raise SystemExit(f"{prog}: error: {item!r} is not FIELD=LITERAL with a "
                             f"ModelConfig field") from None
    return options


def with_model_options(config: ml_collections.ConfigDict, options: dict) -> None:
    """Sets ModelConfig fields `options` over config.model.overrides, in place (a new dict: an
    option may change a value's type, e.g. remat False -> 'dots_saveable')."""
    with config.unlocked():
        config.model.overrides = ml_collections.ConfigDict(
            config.model.overrides.to_dict() | options)


def run_child(config_name: str, data_dir: str, options: dict) -> dict:
    """In this process: times the train step under `options`; returns the figures."""
    import jax

    from gato.config import load_config
    from gato.model.build import build_model
    from gato.train import loop
    from gato.train import setup as setup_lib
    from gato.train.optimizer import make_optimizer

    config = load_config(config_name)
    with_model_options(config, options)
    config.data.data_dir, config.data.worker_count = data_dir, 0
    tc = config.train
    model, _ = build_model(config.model)
    mesh, rules = setup_lib.setup_mesh(config)
    tx, _ = make_optimizer(config.optimizer, tc.total_steps)
    state_setup = setup_lib.setup_state(model, tx, mesh, rules, tc.seq_len)
    data = setup_lib.setup_data(config, mesh)
    make_batch = loop.make_batch_fn(config, mesh)
    batches = [make_batch(next(data)) for _ in range(40)]
    loop.close_data(data)

    def shape(batch: dict) -> tuple:
        return tuple(sorted((k, v.shape) for k, v in batch.items()))

    same = [b for b in batches if shape(b) == shape(batches[0])][:6]
    step_fn = loop.jit_train_step(config, model, state_setup, mesh)
    rng = jax.random.PRNGKey(1)
    state = state_setup.init(jax.random.PRNGKey(0))
    start = time.perf_counter()
    state, metrics = step_fn(state, same[0], rng)
    jax.block_until_ready(metrics)
    compile_s = time.perf_counter() - start
    times = []
    for _ in range(3):
        for batch in same[1:]:
            start = time.perf_counter()
            state, metrics = step_fn(state, batch, rng)
            jax.block_until_ready(metrics)
            times.append(time.perf_counter() - start)
    return {"step_s": float(np.median(times)), "compile_s": compile_s, "batches": len(same),
            "loss": float(metrics["train/loss"])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="gato_cpu")
    parser.add_argument("--data-dir", required=True, help="generated data (gato main's data/)")
    parser.add_argument("--options", nargs="+", default=[""],
                        help='option sets, e.g. "" "attention_blocks=4,remat=\'dots_saveable\'"')
    parser.add_argument("--repeats", type=int, default=2, help="runs per option set")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(run_child(args.config, args.data_dir, options_dict(args.child))))
        return
    for text in args.options:
        options_dict(text)  # a bad option set fails here, before any run
    results: dict[str, list[float]] = {text: [] for text in args.options}
    for repeat in range(args.repeats):
        for text in args.options:
            out = subprocess.run(
                [sys.executable, "-m", "benchmarks.step_options", "--config", args.config,
                 "--data-dir", args.data_dir, "--child", text],
                check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
            figures = json.loads(out)
            results[text].append(figures["step_s"])
            print(f"run {repeat} [{text or 'config as is'}]: {figures['step_s'] * 1e3:.0f} ms "
                  f"per step (median of {3 * (figures['batches'] - 1)}; compile "
                  f"{figures['compile_s']:.0f} s; loss {figures['loss']:.4f})", flush=True)
    base = statistics.mean(results[args.options[0]])
    for text, times in results.items():
        mean = statistics.mean(times)
        print(f"[{text or 'config as is'}]: {mean * 1e3:.0f} ms, {base / mean:.2f}x the first")


if __name__ == "__main__":
    main()
