"""The patch encoder's cost in a train step, forward and backward, side by side in one run.

    .venv/bin/python -m benchmarks.patch_encoder [--patches 1920] [--channels 1] [--repeats 5]

1920 patches is an Atari-only batch of the main job's model (8 windows x ~240 image positions);
channels 1 is the grayscale Atari frame. Prints ms per forward+backward of:
- the model's PatchEncoder (gato.model.embed) at the pixels' width (patch_channels=0: two
  GroupNorm -> GELU -> conv3x3 on 16x16xC, then the 256C -> embed projection), and with the
  stem (patch_channels=32 and 64, patch_stem=4: the block on a 4x4 grid of N channels);
- the pixel-width block written out twice, with XLA:CPU's convolution and with the same 3x3
  convolution as an im2col matmul, with the largest difference of their gradients.
"""

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np


def conv_xla(x: jax.Array, kernel: jax.Array, bias: jax.Array) -> jax.Array:
    """3x3 SAME convolution, [N, H, W, C] x [3, 3, C, C] (as flax nn.Conv)."""
    return jax.lax.conv_general_dilated(x, kernel, (1, 1), "SAME",
                                        dimension_numbers=("NHWC", "HWIO", "NHWC")) + bias


def conv_im2col(x: jax.Array, kernel: jax.Array, bias: jax.Array) -> jax.Array:
    """The same convolution as one matmul over the 3x3 neighbourhoods (zero padded)."""
    n, h, w, c = x.shape
    padded = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    columns = jnp.stack([padded[:, i:i + h, j:j + w, :] for i in range(3) for j in range(3)],
                        axis=3)  # [N, H, W, 9, C]
    return jnp.einsum("nhwkc,kco->nhwo", columns, kernel.reshape((9, c, -1))) + bias


def block(conv, params: dict, x: jax.Array) -> jax.Array:
    """The PatchEncoder's math: two (GroupNorm(1 group) -> GELU -> conv), residual, projection."""
    y = x
    for i in range(2):
        mean = y.mean(axis=(1, 2, 3), keepdims=True)
        var = y.var(axis=(1, 2, 3), keepdims=True)
        y = (y - mean) / jnp.sqrt(var + 1e-6) * params[f"scale{i}"] + params[f"shift{i}"]
        y = conv(jax.nn.gelu(y), params[f"kernel{i}"], params[f"bias{i}"])
    return (x + y).reshape((x.shape[0], -1)) @ params["proj"]


def timed(fn, *args, repeats: int) -> float:
    jax.block_until_ready(fn(*args))  # compile
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patches", type=int, default=1920)
    parser.add_argument("--channels", type=int, default=1)
    parser.add_argument("--embed", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    c, rng = args.channels, np.random.default_rng(0)
    params = {"proj": jnp.asarray(rng.normal(0, 0.05, (256 * c, args.embed)), jnp.float32)}
    for i in range(2):
        params |= {f"kernel{i}": jnp.asarray(rng.normal(0, 0.3, (3, 3, c, c)), jnp.float32),
                   f"bias{i}": jnp.zeros((c,)), f"scale{i}": jnp.ones((c,)),
                   f"shift{i}": jnp.zeros((c,))}
    x = jnp.asarray(rng.uniform(-0.25, 0.25, (args.patches, 16, 16, c)), jnp.float32)
    x_pixels = jnp.asarray(rng.integers(0, 256, (args.patches, 16, 16, c)), jnp.uint8)

    rows = [(f"PatchEncoder, patch_channels={n}", encoder_grad(n, args.embed), x_pixels)
            for n in (0, 32, 64)]
    results = {}
    for name, conv in (("xla conv", conv_xla), ("im2col matmul", conv_im2col)):
        def loss(p, x, conv=conv):
            return jnp.sum(block(conv, p, x) ** 2)

        grad = jax.jit(jax.value_and_grad(loss))
        results[name] = (timed(grad, params, x, repeats=args.repeats), grad(params, x))
    (t_conv, (v_conv, g_conv)), (t_mm, (v_mm, g_mm)) = results.values()
    # relative to the largest gradient entry: a bias followed by GroupNorm has a ~0 gradient,
    # whose own relative difference is rounding noise
    scale = max(float(jnp.max(jnp.abs(a))) for a in jax.tree.leaves(g_conv))
    diff = max(float(jnp.max(jnp.abs(a - b))) for a, b in
               zip(jax.tree.leaves(g_conv), jax.tree.leaves(g_mm), strict=True)) / scale
    times = [(name, timed(fn, xs, repeats=args.repeats)) for name, fn, xs in rows]
    print(f"{args.patches} patches of 16x16x{c}, forward+backward, median of {args.repeats}:")
    for name, t in times:
        print(f"  {name:<34}{1e3 * t:8.1f} ms   ({times[0][1] / t:.2f}x the first)")
    print(f"  {'pixel-width block, xla conv':<34}{1e3 * t_conv:8.1f} ms")
    print(f"  {'pixel-width block, im2col matmul':<34}{1e3 * t_mm:8.1f} ms   "
          f"({t_conv / t_mm:.2f}x the conv)")
    print(f"  im2col vs conv: loss rel. diff {abs(float(v_conv - v_mm)) / abs(float(v_conv)):.1e}"
          f", largest grad diff / largest grad {diff:.1e}")


def encoder_grad(channels: int, embed: int):
    """jitted x -> (loss, grads) of gato.model.embed.PatchEncoder with patch_channels=channels
    (params closed over, initialized once)."""
    import flax.linen as nn

    from gato.model import get_model_config
    from gato.model.embed import PatchEncoder

    config = get_model_config("small", embed_dim=embed, patch_channels=channels, patch_stem=4)
    encoder = PatchEncoder(config)

    def init(x):
        return nn.unbox(encoder.init(jax.random.key(0), x[:1]))

    def loss(p, x):
        return jnp.sum(encoder.apply(p, x) ** 2)

    grad = jax.jit(jax.value_and_grad(loss))
    cache = {}

    def fn(x):
        if "p" not in cache:
            cache["p"] = init(x)
        return grad(cache["p"], x)

    return fn


if __name__ == "__main__":
    main()
