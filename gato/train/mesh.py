"""One device mesh from config, and the shardings of the train state and of batches.

Mesh axes come from `config.mesh.axes`, e.g. [("data", -1), ("fsdp", 1)], where -1 takes the
remaining devices. Parameter and optimizer-state shardings follow the model's logical axis
annotations (nn.with_logical_partitioning) mapped onto mesh axes by `logical_axis_rules`
(flax's logical-to-mesh rules); the fsdp axis shards parameters and optimizer state. Batches are
sharded over ("data", "fsdp") on their leading axis. Multi-host: each host builds its own per-host
batch and `global_batch` assembles the global array with jax.make_array_from_process_local_data.
"""

import math
from collections.abc import Sequence
from typing import Any

import flax.linen as nn
import jax
import numpy as np
import optax
from jax.sharding import Mesh, NamedSharding, PartitionSpec

BATCH_AXES = ("data", "fsdp")


def mesh_shape(axes: Sequence[tuple[str, int]], num_devices: int) -> tuple[int, ...]:
    """Resolves one -1 entry to the remaining devices; checks the product equals num_devices."""
    sizes = [int(size) for _, size in axes]
    if sizes.count(-1) > 1:
        raise ValueError(f"mesh.axes may contain at most one -1, got {list(axes)}")
    known = math.prod(s for s in sizes if s != -1)
    if -1 in sizes:
        if num_devices % known:
            raise ValueError(f"mesh.axes {list(axes)} do not divide {num_devices} devices")
        sizes[sizes.index(-1)] = num_devices // known
    if math.prod(sizes) != num_devices:
        raise ValueError(f"mesh.axes {list(axes)} use {math.prod(sizes)} devices, "
                         f"but {num_devices} are available")
    return tuple(sizes)


def make_mesh(mesh_config: Any, devices: Sequence[jax.Device] | None = None) -> Mesh:
    """Builds the Mesh named by `mesh_config.axes` over all (global) devices.

    `mesh_config.num_devices` (optional, 0 = all) restricts the mesh to the first N devices.
    """
    devices = list(jax.devices() if devices is None else devices)
    if mesh_config.num_devices:
        devices = devices[: int(mesh_config.num_devices)]
    axes = [tuple(a) for a in mesh_config.axes]
    names = [name for name, _ in axes]
    for required in BATCH_AXES:
        if required not in names:
            raise ValueError(f"mesh.axes must name a {required!r} axis, got {axes}")
    shape = mesh_shape(axes, len(devices))
    auto = (jax.sharding.AxisType.Auto,) * len(shape)  # jit propagates shardings (not Explicit)
    return jax.make_mesh(shape, names, axis_types=auto, devices=devices)


def logical_rules(mesh_config: Any, default: Sequence[tuple[str, Any]]) -> tuple:
    """`mesh.logical_axis_rules` if set, else the model's defaults, as a tuple of pairs."""
    rules = mesh_config.logical_axis_rules or default
    return tuple((name, tuple(ax) if isinstance(ax, list) else ax) for name, ax in rules)


def replicated(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, PartitionSpec())


def batch_sharding(mesh: Mesh) -> NamedSharding:
    """Leading (batch) axis split over data x fsdp, the rest replicated."""
    return NamedSharding(mesh, PartitionSpec(BATCH_AXES))


def param_shardings(abstract_boxed_params: Any, mesh: Mesh, rules: tuple) -> Any:
    """NamedShardings for params from their logical axis names (boxed abstract params)."""
    spec = nn.get_partition_spec(abstract_boxed_params)
    return nn.logical_to_mesh_sharding(spec, mesh, rules)


def opt_state_shardings(tx: optax.GradientTransformation, abstract_opt_state: Any,
                        params_sharding: Any, mesh: Mesh) -> Any:
    """Optimizer-state leaves that mirror a parameter take its sharding; others are replicated."""
    return optax.tree_utils.tree_map_params(
        tx, lambda _, sharding: sharding, abstract_opt_state, params_sharding,
        transform_non_params=lambda _: replicated(mesh),
    )


def global_batch(local_batch: dict[str, np.ndarray], mesh: Mesh) -> dict[str, jax.Array]:
    """Per-host numpy batch -> global jax arrays sharded over the batch axes."""
    sharding = batch_sharding(mesh)
    return {k: jax.make_array_from_process_local_data(sharding, np.asarray(v))
            for k, v in local_batch.items()}


def per_host_batch_size(global_batch_size: int, mesh: Mesh) -> int:
    """Rows each process feeds; the batch must split evenly over processes and batch shards."""
    shards = mesh.shape["data"] * mesh.shape["fsdp"]
    if global_batch_size % shards:
        raise ValueError(f"train.batch_size={global_batch_size} is not divisible by the "
                         f"{shards} data x fsdp shards of the mesh")
    return global_batch_size // jax.process_count()
