"""Train throughput with the loss at loss targets only vs the full-vocabulary logits.

    .venv/bin/python -m benchmarks.loss_targets --data-dir /tmp/main_quick/data \
        [--config experiments/gato_cpu.py] [--sizes small,tiny] [--steps 30] [--repeats 2]

Each run is the real `train_and_evaluate` of the config (with `model.name` = size,
`train.total_steps` = steps, `train.loss_on_targets_only` = False or True) in a fresh temporary
workdir; tokens/s is the loop's own figure (steps after the first, which compiles; later
compilations for new target-count buckets are counted). Prints one JSON line per run and a
summary of the mean speed-up per size.
"""

import argparse
import json
import tempfile

import numpy as np

from gato.config import apply_overrides, load_config
from gato.train.loop import train_and_evaluate
from gato.train.metrics import read_jsonl


def run_once(spec: str, data_dir: str, size: str, steps: int, targets_only: bool) -> dict:
    """One training run; returns tokens/s, final loss and the mean fraction of loss targets."""
    config = apply_overrides(load_config(spec), [f"model.name={size!r}",
                                                 f"train.total_steps={steps}"])
    config.data.data_dir = data_dir
    config.train.loss_on_targets_only = targets_only
    with tempfile.TemporaryDirectory(prefix="loss_targets_") as workdir:
        last = train_and_evaluate(config, workdir)
        rows = read_jsonl(f"{workdir}/metrics.jsonl")
    tokens = config.train.batch_size * config.train.seq_len
    targets = [r["train/targets"] for r in rows if "train/targets" in r]
    return {"size": size, "targets_only": targets_only, "steps": steps,
            "tokens_per_s": last["train/tokens_per_s"], "loss": last["train/loss"],
            "target_fraction": float(np.mean(targets)) / tokens}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="experiments/gato_cpu.py")
    parser.add_argument("--data-dir", required=True, help="generated data (gato main's data/)")
    parser.add_argument("--sizes", default="small,tiny", help="comma-separated model sizes")
    parser.add_argument("--steps", type=int, default=30, help="train steps per run")
    parser.add_argument("--repeats", type=int, default=2, help="runs per (size, setting)")
    args = parser.parse_args()
    results = []
    for size in args.sizes.split(","):
        for _ in range(args.repeats):
            for targets_only in (False, True):
                result = run_once(args.config, args.data_dir, size, args.steps, targets_only)
                print(json.dumps(result), flush=True)
                results.append(result)
    for size in args.sizes.split(","):
        rate = {t: np.mean([r["tokens_per_s"] for r in results
                            if r["size"] == size and r["targets_only"] == t])
                for t in (False, True)}
        print(f"{size}: full logits {rate[False]:.0f} tok/s, targets only {rate[True]:.0f} "
              f"tok/s, speed-up x{rate[True] / rate[False]:.2f}")


if __name__ == "__main__":
    main()
