"""The train and decode steps lowered for accelerators this machine lacks (`jax.export`).

`export_train_step(config, ["cuda", "tpu"], num_devices=8)` traces the config's own train step
(`gato.train.loop.jit_train_step`: its dtype, remat policy, loss path and donated state) over an
abstract mesh of `num_devices` devices shaped by `config.mesh.axes` (`jax.sharding.AbstractMesh`:
axis names and sizes, no devices), with the parameter and optimizer-state shardings that
`config.mesh`'s logical axis rules give (`gato.train.setup.setup_state`), and lowers it to
StableHLO for each platform. `export_decode_step` does the same for the agent's per-token call
(`Gato.decode_last` on `decoding_params`, the KV cache donated) on one device. Nothing compiles
or runs: lowering checks that every op has a rule on those platforms and that the shardings fit
the shapes, and `module_stats` counts what an accelerator would receive. A parameter dimension
that its mesh axes do not divide is a one-line ConfigError naming the parameter and the logical
axis, raised before JAX's own error (which names neither).
"""

import collections
import functools
import math
import re
from collections.abc import Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import export
from jax.sharding import AbstractMesh, AxisType, PartitionSpec

from gato.errors import ConfigError
from gato.model import DEFAULT_LOGICAL_AXIS_RULES, Gato, init_cache
from gato.model.build import build_model, example_batch, init_boxed
from gato.model.gato import MODEL_FIELDS, decoding_params
from gato.tokenizers import sequence as seqlib
from gato.tokenizers.vocab import CONTINUOUS_BINS, CONTINUOUS_OFFSET
from gato.train import loop, positions
from gato.train import mesh as mesh_lib
from gato.train import setup as setup_lib
from gato.train.optimizer import make_optimizer

PLATFORMS = ("cuda", "tpu")
KNOWN_PLATFORMS = ("cpu", "cuda", "rocm", "tpu")
# an op (not an attribute such as `sdy.sharding = ...` or `#sdy.sharding<...>`)
_OP = re.compile(r'(?<![#\w.])((?:stablehlo|chlo|sdy|mhlo)\.[a-z_]+)\b(?! =)')
_DOT_TYPES = re.compile(r'stablehlo\.dot_general .*?: \(tensor<(?:[\dx]*x)?(\w+)>, '
                        r'tensor<(?:[\dx]*x)?(\w+)>\)')


def abstract_mesh(mesh_config: Any, num_devices: int) -> AbstractMesh:
    """The mesh `mesh_config.axes` names (e.g. [("data", -1), ("fsdp", 4)]) over `num_devices`
    devices that need not exist; raises ValueError as `gato.train.mesh.make_mesh` does."""
    axes = [tuple(a) for a in mesh_config.axes]
    names = tuple(name for name, _ in axes)
    for required in mesh_lib.BATCH_AXES:
        if required not in names:
            raise ValueError(f"mesh.axes must name a {required!r} axis, got {axes}")
    shape = mesh_lib.mesh_shape(axes, num_devices)
    return AbstractMesh(shape, names, axis_types=(AxisType.Auto,) * len(shape))


def lower(fn: Any, args: Sequence[Any], platforms: Sequence[str] = PLATFORMS,
          **static: Any) -> export.Exported:
    """`jax.export` of the jitted `fn` on abstract `args` (ShapeDtypeStructs, with shardings
    where the mesh has more than one device) and static keyword arguments, for `platforms`."""
    platforms = tuple(platforms)
    unknown = sorted(set(platforms) - set(KNOWN_PLATFORMS))
    if not platforms or unknown:
        raise ValueError(f"platforms {list(platforms)}: use some of {KNOWN_PLATFORMS}")
    return export.export(fn, platforms=platforms)(*args, **static)


def uneven_dimension(abstract: Any, shardings: Any, mesh: Any
                     ) -> tuple[str, tuple[int, ...], int, tuple[str, ...], int] | None:
    """The first leaf that its sharding splits unevenly, as (key path, shape, dim, mesh axes,
    ways split), or None; trees of ShapeDtypeStructs and NamedShardings of one structure."""
    leaves = jax.tree_util.tree_flatten_with_path(abstract)[0]
    for (path, leaf), sharding in zip(leaves, jax.tree.leaves(shardings), strict=True):
        for dim, (size, axes) in enumerate(zip(leaf.shape, sharding.spec, strict=False)):
            axes = (axes,) if isinstance(axes, str) else tuple(axes or ())
            split = math.prod(mesh.shape[a] for a in axes)
            if size % split:
                return jax.tree_util.keystr(path), tuple(leaf.shape), dim, axes, split
    return None


def check_param_shardings(model: Any, state: setup_lib.StateSetup, mesh: Any, seq_len: int
                          ) -> None:
    """Raises ConfigError naming the first parameter and logical axis whose mesh axes (by the
    logical axis rules) do not divide its size."""
    uneven = uneven_dimension(state.abstract.params, state.shardings.params, mesh)
    if uneven is None:
        return
    path, shape, dim, axes, split = uneven
    boxed = jax.eval_shape(lambda rng: init_boxed(model, rng, seq_len), jax.random.PRNGKey(0))
    specs = {jax.tree_util.keystr(p): spec for p, spec in jax.tree_util.tree_flatten_with_path(
        nn.get_partition_spec(boxed), is_leaf=lambda x: isinstance(x, PartitionSpec))[0]}
    logical = tuple(specs.get(path, ()))
    name = logical[dim] if dim < len(logical) else None
    raise ConfigError(f"mesh.logical_axis_rules map logical axis {name!r} (dim {dim} of "
                      f"params{path} {shape}) to mesh axes {axes}, split {split} ways, which "
                      f"does not divide its size {shape[dim]}")


def abstract_batch(config: Any, mesh: Any) -> dict[str, jax.ShapeDtypeStruct]:
    """The train step's global batch as ShapeDtypeStructs sharded over data x fsdp: the
    TokenSequence fields [B, L, ...], task_id [B], and the position lists the config's loss path
    gathers (`gato.train.positions`) at their largest bucket, [data * fsdp, B / shards * (L-1)]."""
    tc = config.train
    mesh_lib.per_host_batch_size(tc.batch_size, mesh)  # raises unless shards divide the batch
    sharding = mesh_lib.batch_sharding(mesh)
    shapes = {k: ((tc.batch_size, tc.seq_len, *shape), dtype)
              for k, (shape, dtype) in seqlib.FIELDS.items()}
    shapes["task_id"] = ((tc.batch_size,), jnp.int32)
    groups = mesh.shape["data"] * mesh.shape["fsdp"]
    lists = []
    if tc.loss_on_targets_only:
        lists.append(positions.TARGET_INDEX)
        if loop.split_actions(tc):
            lists.append(positions.ACTION_INDEX)
    if int(tc.image_buckets) > 0:
        lists.append(positions.IMAGE_INDEX)
    for key in lists:
        shapes[key] = ((groups, tc.batch_size // groups * (tc.seq_len - 1)), jnp.int32)
    return {k: jax.ShapeDtypeStruct(shape, dtype, sharding=sharding)
            for k, (shape, dtype) in shapes.items()}


def train_step_inputs(config: Any, mesh: Any) -> tuple[Any, tuple[Any, ...]]:
    """(the config's jitted train step, its abstract (state, batch, rng)) on `mesh`, with the
    state's shardings from the config's logical axis rules; ConfigError for a rule that splits a
    parameter unevenly."""
    model, model_config = build_model(config.model)
    setup_lib.check_context(config.train.seq_len, model_config.max_len)
    rules = mesh_lib.logical_rules(config.mesh, DEFAULT_LOGICAL_AXIS_RULES)
    tx, _ = make_optimizer(config.optimizer, config.train.total_steps)
    state = setup_lib.setup_state(model, tx, mesh, rules, config.train.seq_len)
    check_param_shardings(model, state, mesh, config.train.seq_len)
    rng = jax.ShapeDtypeStruct((2,), jnp.uint32, sharding=mesh_lib.replicated(mesh))
    step = loop.jit_train_step(config, model, state, mesh)
    return step, (state.abstract, abstract_batch(config, mesh), rng)


def export_train_step(config: Any, platforms: Sequence[str] = PLATFORMS,
                      num_devices: int = 8) -> export.Exported:
    """The config's train step lowered for `platforms` on an abstract mesh of `num_devices`."""
    mesh = abstract_mesh(config.mesh, num_devices)
    step, args = train_step_inputs(config, mesh)
    return lower(step, args, platforms)


def decode_step_inputs(model_section: Any, batch_size: int = 4, chunk_len: int = 1,
                       cache_len: int | None = None, id_range: tuple[int, int] | None = None
                       ) -> tuple[Any, tuple[Any, ...]]:
    """(jitted decode step, its abstract (params, chunk, cache)): the agent's per-token call,
    `Gato.decode_last` on `decoding_params` appending chunk [B, T] to the KV cache (donated) and
    returning float32 logits [B, hi - lo] of ids [lo, hi) (default: the continuous bins)."""
    model, config = build_model(model_section)
    lo, hi = id_range or (CONTINUOUS_OFFSET, CONTINUOUS_OFFSET + CONTINUOUS_BINS)
    batch = example_batch(1, min(8, config.max_len))
    params = jax.eval_shape(lambda rng: decoding_params(
        config, model.init({"params": rng, "patch_pos": rng}, batch)["params"]),
        jax.random.PRNGKey(0))
    cache = jax.eval_shape(functools.partial(init_cache, config, batch_size,
                                             cache_len or config.max_len))
    chunk = {k: jax.ShapeDtypeStruct((batch_size, chunk_len, *seqlib.FIELDS[k][0]),
                                     seqlib.FIELDS[k][1]) for k in MODEL_FIELDS}

    def decode(params, chunk, cache):
        return model.apply({"params": params}, chunk, cache, lo, hi, method=Gato.decode_last)

    return jax.jit(decode, donate_argnums=2), (params, chunk, cache)


def export_decode_step(model_section: Any, platforms: Sequence[str] = PLATFORMS,
                       **options: Any) -> export.Exported:
    """The decode step of `decode_step_inputs(model_section, **options)` lowered for
    `platforms` (one device, as `gato.eval.agent.ModelAgent` runs it)."""
    step, args = decode_step_inputs(model_section, **options)
    return lower(step, args, platforms)


def op_counts(exported: export.Exported) -> collections.Counter:
    """Ops of the lowered module by name ("stablehlo.dot_general": n, ...). A multi-platform
    module holds each platform-dependent lowering once per platform (`stablehlo.case` branches)."""
    return collections.Counter(_OP.findall(exported.mlir_module()))


def module_stats(exported: export.Exported) -> dict[str, Any]:
    """What the module holds: platforms, devices, sizes (StableHLO bytecode bytes; text
    characters, locations included), ops, dots by operand dtypes, arguments sharded over a mesh
    axis, outputs aliased to donated inputs, locations inside remat'ed (recomputed) code."""
    text = exported.mlir_module()
    dots = collections.Counter(_DOT_TYPES.findall(text))
    return {
        "platforms": ",".join(exported.platforms),
        "devices": exported.nr_devices,
        "module_bytes": len(exported.mlir_module_serialized),
        "module_chars": len(text),
        "ops": sum(collections.Counter(_OP.findall(text)).values()),
        "dots": sum(dots.values()),
        "bf16_dots": dots[("bf16", "bf16")],
        "f32_dots": dots[("f32", "f32")],
        "sharded_args": len(re.findall(r'%arg\d+: [^{]*\{[^}]*sdy\.sharding = #sdy\.sharding'
                                       r'<@mesh, \[[^\]]*"', text)),
        "donated_outputs": text.count("tf.aliasing_output"),
        "remat_locations": text.count("rematted_computation"),
    }
