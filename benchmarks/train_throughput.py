"""Training throughput (tokens/s) and MFU of the real train step on this machine.

    .venv/bin/python -m benchmarks.train_throughput [--steps 3] [--sizes tiny:8x256,79m:1x256]
    .venv/bin/python -m benchmarks.train_throughput --sizes small:8x256 \\
        --set train.loss_on_targets_only=True --options attention_blocks=4,remat='dots_saveable'

Each size runs the train loop's jitted step (`gato.train.loop.jit_train_step`: AdamW, sharded
over all local devices along "data", the state donated) on --steps synthetic batches of
BATCHxSEQ_LEN tokens, run once to compile their shapes and then again, timed. By default the
logits are computed at every position and the patch encoder runs everywhere
(train.loss_on_targets_only False, train.image_buckets 0: the full model). --set KEY=VALUE
changes any key of the config (experiments/synthetic_tiny.py), e.g. the main job's
targets-only logits; --options FIELD=LITERAL,... sets ModelConfig fields (the main job's model
options). MFU = tokens/s * training FLOPs per token of the full model (gato.model.flops) /
(measured matmul FLOP/s of one device, taken in the same run, * number of devices), so work the
step skips (logits off the targets) counts as done.
"""

import argparse
import time
from collections.abc import Sequence

import jax

from benchmarks.step_options import options_dict, with_model_options
from gato.config import apply_overrides
from gato.data.pipeline import sources
from gato.model import count_params
from gato.model.build import build_model
from gato.model.flops import flops_per_token
from gato.testing.train import tiny_config
from gato.train import loop
from gato.train import metrics as metrics_lib
from gato.train import setup as setup_lib
from gato.train.optimizer import make_optimizer

FULL_MODEL = ("train.loss_on_targets_only=False", "train.image_buckets=0")


def bench(size: str, batch: int, seq_len: int, steps: int, peak: float,
          overrides: Sequence[str] = (), options: dict | None = None) -> dict[str, float]:
    """Times `steps` train steps of model `size` on [batch, seq_len] synthetic batches."""
    config = tiny_config(f"model.name={size!r}", f"train.batch_size={batch}",
                         f"train.seq_len={seq_len}", "train.total_steps=1000",
                         "optimizer.warmup_steps=10", *FULL_MODEL)
    config = apply_overrides(config, list(overrides))
    with_model_options(config, options or {})
    model, model_config = build_model(config.model)
    mesh, rules = setup_lib.setup_mesh(config)
    tx, _ = make_optimizer(config.optimizer, config.train.total_steps)
    state_setup = setup_lib.setup_state(model, tx, mesh, rules, seq_len)
    rng = jax.random.PRNGKey(0)
    state = state_setup.init(rng)
    step_fn = loop.jit_train_step(config, model, state_setup, mesh)
    make_batch = loop.make_batch_fn(config, mesh)
    data = sources.make_iterator(config.data, batch_size=batch, seq_len=seq_len, seed=0)
    batches = [make_batch(next(data)) for _ in range(steps)]
    for b in batches:  # compiles every batch shape (targets-only steps bucket their shapes)
        state, out = step_fn(state, b, rng)
    jax.block_until_ready(out)
    start = time.perf_counter()
    for b in batches:
        state, out = step_fn(state, b, rng)
    jax.block_until_ready(out)
    elapsed = time.perf_counter() - start
    flops = flops_per_token(model_config, seq_len)
    result = metrics_lib.throughput(steps * batch * seq_len, elapsed, flops, peak)
    return {"params": count_params(model_config), "step_s": elapsed / steps,
            "loss": float(out["train/loss"]), **result}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3, help="timed steps per size")
    parser.add_argument("--sizes", default="tiny:8x256,79m:1x256",
                        help="comma-separated SIZE:BATCHxSEQ_LEN")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE", help="config override (repeatable)")
    parser.add_argument("--options", default="", metavar="FIELD=LITERAL,...",
                        help="ModelConfig fields, e.g. attention_blocks=4,remat='dots_saveable'")
    args = parser.parse_args()
    options = options_dict(args.options, "train_throughput")
    per_device = metrics_lib.measure_matmul_flops()
    peak = per_device * jax.device_count()
    print(f"devices: {jax.device_count()} x {jax.devices()[0].device_kind}; measured matmul "
          f"(1024^2 f32): {per_device / 1e9:.1f} GFLOP/s per device")
    for item in args.sizes.split(","):
        size, _, shape = item.partition(":")
        batch, seq_len = (int(x) for x in shape.split("x"))
        r = bench(size, batch, seq_len, args.steps, peak, args.overrides, options)
        print(f"{size:>6} ({r['params'] / 1e6:.1f}M params) batch {batch} x seq {seq_len}: "
              f"{r['step_s']:.3f} s/step, {r['train/tokens_per_s']:.0f} tokens/s, "
              f"MFU {100 * r['train/mfu']:.1f}% (loss {r['loss']:.3f})")


if __name__ == "__main__":
    main()
