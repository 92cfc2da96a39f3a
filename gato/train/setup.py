"""The set-up helpers of the train loop: model, mesh, data, sharded state, and where to start."""

import dataclasses
import logging
from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax.sharding import Mesh

from gato.data.pipeline import sources
from gato.errors import CheckpointError, CheckpointMismatchError
from gato.model.build import init_boxed
from gato.rundir import RunDir
from gato.train import checkpoint as ckpt
from gato.train import mesh as mesh_lib
from gato.train.step import TrainState


@dataclasses.dataclass
class StateSetup:
    """What the loop needs to create, restore and jit the train state."""

    abstract: TrainState  # ShapeDtypeStructs carrying their shardings
    shardings: TrainState  # NamedShardings
    init: Callable[[jax.Array], TrainState]  # jitted rng -> sharded fresh state


def check_context(seq_len: int, max_len: int) -> None:
    """Training windows must fit the model's context; shorter ones are allowed but warned about,
    because evaluation and sampling then attend over max_len tokens, a longer history than any
    trained on (no absolute positions stop the model from running, but it is out of
    distribution). Set model max_len to train.seq_len to evaluate as trained."""
    if seq_len > max_len:
        raise ValueError(f"train.seq_len={seq_len} exceeds the model's max_len={max_len}")
    if seq_len < max_len:
        logging.warning("train.seq_len=%d < model max_len=%d: evaluation will attend over %d "
                        "tokens, more than any training window", seq_len, max_len, max_len)


def setup_mesh(config: Any) -> tuple[Mesh, tuple]:
    from gato.model import DEFAULT_LOGICAL_AXIS_RULES

    mesh = mesh_lib.make_mesh(config.mesh)
    return mesh, mesh_lib.logical_rules(config.mesh, DEFAULT_LOGICAL_AXIS_RULES)


def setup_data(config: Any, mesh: Mesh) -> Any:
    """This host's data iterator, making batch_size / process_count rows per step."""
    return sources.make_iterator(
        config.data, batch_size=mesh_lib.per_host_batch_size(config.train.batch_size, mesh),
        seq_len=config.train.seq_len, seed=config.train.seed,
        process_index=jax.process_index(), process_count=jax.process_count())


def setup_state(model: Any, tx: Any, mesh: Mesh, rules: tuple, seq_len: int) -> StateSetup:
    """Shapes and shardings of the train state, from the model's logical axis annotations."""
    def init_params(rng):
        return init_boxed(model, rng, seq_len)

    boxed = jax.eval_shape(init_params, jax.random.PRNGKey(0))
    param_sharding = mesh_lib.param_shardings(boxed, mesh, rules)
    abstract_params = nn.unbox(boxed)
    abstract_opt = jax.eval_shape(tx.init, abstract_params)
    shardings = TrainState(
        step=mesh_lib.replicated(mesh), params=param_sharding,
        opt_state=mesh_lib.opt_state_shardings(tx, abstract_opt, param_sharding, mesh))
    abstract = TrainState(jax.ShapeDtypeStruct((), jnp.int32), abstract_params, abstract_opt)

    def init_state(rng):
        params = nn.unbox(init_params(rng))
        return TrainState(jnp.zeros((), jnp.int32), params, tx.init(params))

    init = jax.jit(init_state, out_shardings=shardings)
    return StateSetup(ckpt.abstract_with_shardings(abstract, shardings), shardings, init)


def restore_or_init(config: Any, checkpointer: ckpt.Checkpointer, setup: StateSetup,
                    data_iter: Any, rng: jax.Array) -> TrainState:
    """Starts from: workdir checkpoint -> checkpoint.resume_from -> init_from -> scratch.

    Writes nothing: a checkpoint that does not match the config raises CheckpointMismatchError
    (naming the config keys that changed since config.json was recorded) and leaves the workdir
    as it was. Refuses to start below checkpoints the run would later save over.
    """
    cfg = config.checkpoint
    try:
        state, data_state = _restore_or_init(config, checkpointer, setup, rng)
    except CheckpointMismatchError as e:
        recorded = ckpt.read_config(checkpointer.directory)
        changed = ckpt.config_differences(recorded, config.to_dict()) if recorded else []
        changed = [c for c in changed if c.split(".")[0] in ("model", "optimizer")]
        hint = (f"; changed since {RunDir.config_beside(checkpointer.directory)}: "
                f"{'; '.join(changed[:4])}" if changed else "")
        raise CheckpointMismatchError(
            f"{e}{hint}. Use another --workdir for the new model, or --no-resume with it") from e
    start = int(jax.device_get(state.step))
    later = [s for s in checkpointer.all_steps() if s > start]
    if later:
        raise CheckpointError(
            f"{checkpointer.directory} holds checkpoints of steps {later}, after the start step "
            f"{start} (resume={cfg.resume}, resume_from="
            f"{cfg.resume_from or None!r}); this run would save over them: move them "
            "away or use another --workdir")
    if data_state is not None:
        data_iter.set_state(data_state)
    return state


def _restore_or_init(config: Any, checkpointer: ckpt.Checkpointer, setup: StateSetup,
                     rng: jax.Array) -> tuple[TrainState, Any]:
    cfg = config.checkpoint
    if cfg.resume and checkpointer.latest_step() is not None:
        restored = checkpointer.restore_latest_intact(setup.abstract,
                                                      cfg.on_damaged)
        if restored is not None:
            state, data_state, step = restored
            logging.info("resumed from %s step %d (checksums verified)", checkpointer.directory,
                         step)
            return state, data_state
    if cfg.resume_from:
        logging.info("resuming from explicit checkpoint %s", cfg.resume_from)
        return ckpt.restore_from_path(cfg.resume_from, setup.abstract)
    state = setup.init(rng)
    if cfg.init_from and cfg.init_opt_state:
        logging.info("initializing params and optimizer state from %s", cfg.init_from)
        restored, _ = ckpt.restore_from_path(cfg.init_from, setup.abstract)
        state = state._replace(params=restored.params,
                               opt_state=reset_counts(restored.opt_state))
    elif cfg.init_from:
        logging.info("initializing params from %s", cfg.init_from)
        params = ckpt.restore_params(cfg.init_from, setup.abstract.params)
        state = state._replace(params=params)
    return state, None


def reset_counts(opt_state: Any) -> Any:
    """The optimizer state with its step counters at 0 (Adam's bias correction, the schedule's
    position), its moments kept: a run initialized from another starts its own schedule."""
    def reset(path, leaf):
        name = getattr(path[-1], "name", None) if path else None
        return jnp.zeros_like(leaf) if name == "count" else leaf

    return jax.tree_util.tree_map_with_path(reset, opt_state)
