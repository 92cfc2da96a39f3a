"""Where a training window's tokens go: padding, Gato's targets, observation targets, per task.

    python -m benchmarks.padding --config gato_cpu --data-dir runs/main/data --examples 800

Draws `--examples` windows from the config's training mixture (the examples the trainer would
see, seed 0) and prints, per task and overall: windows drawn, the share of window tokens that
are padding, Gato's loss targets (actions and text) and observation tokens that
`train.observation_weight` would add as targets (continuous and discrete), per window. Numbers,
not timings: safe to run beside other work.
"""

import argparse
import collections

import numpy as np

from gato.config import apply_overrides, load_config
from gato.data.pipeline.loader import example_maker
from gato.data.pipeline.resolve import resolve_tasks
from gato.model.loss import ObservationLoss, observation_targets
from gato.tokenizers.sequence import Modality


def window_counts(example: dict) -> dict[str, int]:
    """Token counts of one example window: tokens, padding, Gato targets, observation targets."""
    modality, mask = example["modality"], example["loss_mask"]
    observed = observation_targets(modality, mask, example["is_action"],
                                   ObservationLoss(1.0).modalities)
    return {"tokens": int(modality.size), "padding": int((modality == Modality.PAD).sum()),
            "targets": int(mask[1:].sum()), "observation": int(observed[1:].sum())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default="gato_cpu")
    parser.add_argument("--data-dir", required=True, help="the config's data (gato main's data)")
    parser.add_argument("--examples", type=int, default=800)
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    args = parser.parse_args()
    config = apply_overrides(load_config(args.config), args.overrides)
    dc = config.data
    dc.data_dir = args.data_dir
    seq_len = int(config.train.seq_len)
    maker = example_maker(resolve_tasks(dc, seq_len), dc, seq_len=seq_len, seed=0)
    tasks = maker.tasks
    totals: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for index in range(args.examples):
        example = maker(index)
        name = tasks[int(example["task_id"])].name
        counts = window_counts(example)
        for key in (name, "all"):
            totals[key].update(counts | {"windows": 1})
    print(f"{args.examples} windows of {seq_len} tokens from {args.config} (seed 0)")
    print(f"{'task':<22}{'windows':>8}{'padding':>9}{'targets/w':>11}{'obs/w':>8}")
    for name in [*sorted(k for k in totals if k != "all"), "all"]:
        c = totals[name]
        print(f"{name:<22}{c['windows']:>8}{c['padding'] / c['tokens']:>9.1%}"
              f"{c['targets'] / c['windows']:>11.1f}{c['observation'] / c['windows']:>8.1f}")
    share = np.array([totals[k]["padding"] for k in totals if k != "all"]).sum()
    print(f"padding overall: {share} of {totals['all']['tokens']} tokens")


if __name__ == "__main__":
    main()
