"""Training throughput (tokens/s) and MFU of the real train step on this machine.

    .venv/bin/python -m benchmarks.train_throughput [--steps 3] [--sizes tiny:8x256,79m:1x256]

Each size runs the jitted train step of gato.train (AdamW, sharded over all local devices along
"data") on synthetic batches of BATCHxSEQ_LEN tokens: one step to compile, then --steps timed
steps. MFU = tokens/s * training FLOPs per token (gato.model.flops) / (measured matmul FLOP/s of
one device, taken in the same run, * number of devices).
"""

import argparse
import time

import jax

from gato.data.pipeline import sources
from gato.model import count_params, masked_loss
from gato.model.build import build_model
from gato.model.flops import flops_per_token
from gato.testing.train import tiny_config
from gato.train import mesh as mesh_lib
from gato.train import metrics as metrics_lib
from gato.train import setup as setup_lib
from gato.train.optimizer import make_optimizer
from gato.train.step import make_train_step


def bench(size: str, batch: int, seq_len: int, steps: int, peak: float) -> dict[str, float]:
    """Times `steps` train steps of model `size` on [batch, seq_len] synthetic batches."""
    config = tiny_config(f"model.name={size!r}", f"train.batch_size={batch}",
                         f"train.seq_len={seq_len}", "train.total_steps=1000",
                         "optimizer.warmup_steps=10")
    model, model_config = build_model(config.model)
    mesh, rules = setup_lib.setup_mesh(config)
    tx, schedule = make_optimizer(config.optimizer, config.train.total_steps)
    state_setup = setup_lib.setup_state(model, tx, mesh, rules, seq_len)
    rng = jax.random.PRNGKey(0)
    state = state_setup.init(rng)
    step_fn = jax.jit(make_train_step(model, tx, schedule, masked_loss),
                      in_shardings=(state_setup.shardings, mesh_lib.batch_sharding(mesh),
                                    mesh_lib.replicated(mesh)),
                      out_shardings=(state_setup.shardings, mesh_lib.replicated(mesh)),
                      donate_argnums=0)
    data = sources.make_iterator(config.data, batch_size=batch, seq_len=seq_len, seed=0)
    batches = [mesh_lib.global_batch(next(data), mesh) for _ in range(steps + 1)]
    state, out = step_fn(state, batches[0], rng)
    jax.block_until_ready(out)
    start = time.perf_counter()
    for b in batches[1:]:
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
    args = parser.parse_args()
    per_device = metrics_lib.measure_matmul_flops()
    peak = per_device * jax.device_count()
    print(f"devices: {jax.device_count()} x {jax.devices()[0].device_kind}; measured matmul "
          f"(1024^2 f32): {per_device / 1e9:.1f} GFLOP/s per device")
    for item in args.sizes.split(","):
        size, _, shape = item.partition(":")
        batch, seq_len = (int(x) for x in shape.split("x"))
        r = bench(size, batch, seq_len, args.steps, peak)
        print(f"{size:>6} ({r['params'] / 1e6:.1f}M params) batch {batch} x seq {seq_len}: "
              f"{r['step_s']:.3f} s/step, {r['train/tokens_per_s']:.0f} tokens/s, "
              f"MFU {100 * r['train/mfu']:.1f}% (loss {r['loss']:.3f})")


if __name__ == "__main__":
    main()
