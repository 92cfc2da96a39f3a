"""The cluster recipe's train and decode steps lowered per platform: sizes and op counts.

    python -m benchmarks.lowering [--sizes tiny 79m 364m 1.18b] [--platforms cuda tpu]
        [--devices 8] [--fsdp 4]

For each model size, `experiments/gato_cluster.py:size=...` (tiny: the test's shrunk recipe,
64-token windows, 16 rows; the paper sizes: the recipe's own batch 512 x 1024 tokens) is lowered
with `gato.train.export` on an abstract mesh of --devices devices (data = devices / fsdp), one
platform at a time, so each row counts one platform's module; then the agent's decode step
(`Gato.decode_last`, 4 environments, one token, the model's full context cached). Nothing runs
on an accelerator: the figures are what jax.export hands one (StableHLO bytecode size, ops,
dots by operand dtype, sharded arguments, outputs aliased to donated inputs).
"""

import argparse
import logging

from gato.config import apply_overrides, load_config
from gato.train import export as export_lib

COLUMNS = ("module_bytes", "ops", "dots", "bf16_dots", "f32_dots", "sharded_args",
           "donated_outputs", "remat_locations")
TINY = ["model.name=tiny", "train.seq_len=64", "train.batch_size=16"]


def recipe(size: str, fsdp: int):
    """The cluster recipe at `size` ("tiny": the test's shrunk one) with data x fsdp axes."""
    config = load_config("gato_cluster" if size == "tiny" else f"gato_cluster:size={size}")
    return apply_overrides(config, [*(TINY if size == "tiny" else []),
                                    f"mesh.axes=[('data', -1), ('fsdp', {fsdp})]"])


def rows(size: str, platforms: list[str], devices: int, fsdp: int):
    """(size, step, platform, stats) for the train and the decode step on each platform."""
    config = recipe(size, fsdp)
    for platform in platforms:
        yield size, "train", platform, export_lib.module_stats(
            export_lib.export_train_step(config, [platform], devices))
    for platform in platforms:
        yield size, "decode", platform, export_lib.module_stats(
            export_lib.export_decode_step(config.model, [platform]))


def main() -> None:
    parser = argparse.ArgumentParser(prog="benchmarks.lowering", description=__doc__.split(
        "\n")[0])
    parser.add_argument("--sizes", nargs="+", default=["tiny", "79m", "364m", "1.18b"])
    parser.add_argument("--platforms", nargs="+", default=list(export_lib.PLATFORMS))
    parser.add_argument("--devices", type=int, default=8)
    parser.add_argument("--fsdp", type=int, default=4)
    args = parser.parse_args()
    logging.getLogger().setLevel(logging.ERROR)  # the tiny recipe's short-window warning
    print(" ".join(f"{c:>15}" for c in ("size", "step", "platform", "devices", *COLUMNS)))
    for size in args.sizes:
        for name, step, platform, stats in rows(size, args.platforms, args.devices, args.fsdp):
            values = (name, step, platform, stats["devices"], *(stats[c] for c in COLUMNS))
            print(" ".join(f"{v:>15}" for v in values), flush=True)


if __name__ == "__main__":
    main()
