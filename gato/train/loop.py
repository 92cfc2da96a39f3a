"""`train_and_evaluate(config, workdir)`: the one train loop (data-parallel, multi-host ready).

Each step: this host's batch -> global sharded arrays -> jitted train step (donated state).
Metrics of step s are fetched while step s+1 runs, checked for NaN/inf (the run stops with an
error naming the step; the bad state is never saved), and written every `log_every` steps
with the throughput since the last write and the XLA compilations since the run started
(`perf/compiles`, `perf/compile_s`: every new bucketed batch shape compiles the step again).
Checkpoints every `checkpoint_every` steps, at the end, and on SIGTERM/SIGINT (the current step
finishes, the state is saved, then `gato.errors.TrainingStopped` is raised: the run is not done).

Before any work the config is validated (`gato.train.validate`); config.json is written only
once the run has started from a checkpoint that matches it (or from scratch). A resumed run
drops the metrics rows after its start step (they are re-run). Bad episodes skipped by the data
pipeline are counted in the metrics (`data/bad_episode_skips`) and in the returned summary.
With train.profile_start > 0, train.profile_steps steps from there are traced into
WORKDIR/profile (`gato.train.profile`; read by `benchmarks.step_profile`).
"""

import contextlib
import functools
import logging
import pathlib
import signal
import time
from typing import Any

import jax
import ml_collections
import numpy as np
import tqdm

from gato.envs.returns import check_model as check_returns
from gato.errors import TrainingStopped
from gato.model.build import build_model
from gato.model.loss import NO_OBSERVATION_LOSS, ObservationLoss
from gato.tokenizers.sequence import Modality
from gato.train import checkpoint as ckpt
from gato.train import evaluators as evaluators_lib
from gato.train import mesh as mesh_lib
from gato.train import metrics as metrics_lib
from gato.train import positions, profile, validate
from gato.train import setup as setup_lib
from gato.train.optimizer import make_optimizer
from gato.train.step import make_train_step


class StopRequest:
    """Records SIGTERM/SIGINT so the loop can finish the step, save and exit cleanly."""

    def __init__(self):
        self.requested = False
        self._previous = {}

    def __enter__(self):
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(ValueError):  # not the main thread: no handlers
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        logging.warning("signal %d: stopping after this step", signum)
        self.requested = True

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def any_process(self) -> bool:
        """True if any process was asked to stop (all processes must agree to save together)."""
        if jax.process_count() == 1:
            return self.requested
        from jax.experimental import multihost_utils

        return bool(np.any(multihost_utils.process_allgather(np.array(self.requested))))


def peak_flops(config: Any) -> float:
    """Total peak FLOP/s of all devices: configured per device, else measured by a matmul."""
    per_device = float(config.train.get("peak_flops_per_device") or 0.0)
    if per_device <= 0:
        per_device = metrics_lib.measure_matmul_flops()
        logging.info("measured matmul rate: %.3g FLOP/s per device", per_device)
    return per_device * jax.device_count()


ACTION_SOFTMAX = ("vocab", "range")


def split_actions(train_config: Any) -> bool:
    """train.action_softmax: "vocab" (Gato: an action target's softmax spans the vocabulary) or
    "range" (only its own range, `range_targets_loss`; needs train.loss_on_targets_only)."""
    mode = train_config.get("action_softmax", "vocab")
    if mode not in ACTION_SOFTMAX:
        raise ValueError(f"train.action_softmax must be one of {ACTION_SOFTMAX}, got {mode!r}")
    if mode == "range" and not train_config.get("loss_on_targets_only", True):
        raise ValueError('train.action_softmax="range" needs train.loss_on_targets_only=True')
    return mode == "range"


OBSERVATION_KINDS = {"continuous": Modality.CONTINUOUS, "discrete": Modality.DISCRETE}


def observation_loss(train_config: Any) -> ObservationLoss:
    """train.observation_weight (0: Gato's objective) and train.observation_kinds (comma-
    separated names of OBSERVATION_KINDS) as a `gato.model.loss.ObservationLoss`."""
    kinds = [k.strip() for k in str(train_config.get("observation_kinds", "continuous,discrete"))
             .split(",") if k.strip()]
    unknown = sorted(set(kinds) - set(OBSERVATION_KINDS))
    if unknown:
        raise ValueError(f"train.observation_kinds: unknown kind(s) {unknown}; expected some of "
                         f"{sorted(OBSERVATION_KINDS)}")
    return ObservationLoss(float(train_config.get("observation_weight", 0.0)),
                           tuple(int(OBSERVATION_KINDS[k]) for k in kinds))


def make_loss_fn(num_task_ids: int, targets_only: bool = False, label_sigma: float = 0.0,
                 split_actions: bool = False, observation: ObservationLoss = NO_OBSERVATION_LOSS):
    """masked_loss, plus a per_task_loss [num_task_ids] vector metric when num_task_ids > 0.

    targets_only: the equal `targets_only_loss` on logits at batch["target_index"] instead.
    label_sigma: Gaussian labels for continuous targets, in bins (`gato.model.loss`).
    split_actions: `range_targets_loss` (action softmax over the action's range only).
    observation: observation-token prediction (`gato.model.loss.ObservationLoss`; off: Gato's).
    """
    from gato.model import masked_loss, per_task_loss
    from gato.model.loss import range_targets_loss, targets_only_loss

    if targets_only:
        loss = range_targets_loss if split_actions else targets_only_loss
        return functools.partial(loss, num_tasks=max(num_task_ids, 0), label_sigma=label_sigma,
                                 observation=observation)
    if num_task_ids <= 0:
        return functools.partial(masked_loss, label_sigma=label_sigma, observation=observation)

    def loss_fn(logits, batch):
        loss, metrics = masked_loss(logits, batch, label_sigma, observation)
        per_task, _ = per_task_loss(logits, batch, num_task_ids, label_sigma)
        return loss, metrics | {"per_task_loss": per_task}

    return loss_fn


@functools.lru_cache(maxsize=8)
def cached_train_step(model: Any, optimizer_items: tuple, total_steps: int, num_task_ids: int,
                      targets_only: bool = False, label_sigma: float = 0.0,
                      split_actions: bool = False,
                      observation: ObservationLoss = NO_OBSERVATION_LOSS):
    """The train step function, one object per (model, optimizer, steps, tasks, loss path).

    Reusing the same function object lets jax.jit reuse its trace and compiled executable when
    train_and_evaluate runs again in one process (resume, sweeps, tests).
    """
    opt_config = ml_collections.ConfigDict(dict(optimizer_items))
    tx, schedule = make_optimizer(opt_config, total_steps)
    return make_train_step(model, tx, schedule,
                           make_loss_fn(num_task_ids, targets_only, label_sigma, split_actions,
                                        observation),
                           targets_only, split_actions)


def jit_train_step(config: Any, model: Any, state_setup: Any, mesh: Any):
    """The config's train step, jitted with the state's and the batch's shardings and the state
    donated: step_fn(state, batch, rng) -> (state, metrics)."""
    tc = config.train
    return jax.jit(
        cached_train_step(model, tuple(sorted(config.optimizer.items())), tc.total_steps,
                          tc.get("num_task_ids", 0), tc.get("loss_on_targets_only", True),
                          float(tc.get("label_sigma", 0.0)), split_actions(tc),
                          observation_loss(tc)),
        in_shardings=(state_setup.shardings, mesh_lib.batch_sharding(mesh),
                      mesh_lib.replicated(mesh)),
        out_shardings=(state_setup.shardings, mesh_lib.replicated(mesh)),
        donate_argnums=0,
    )


def make_batch_fn(config: Any, mesh: Any):
    """Per-host numpy batch -> global sharded batch, plus the position lists of
    `gato.train.positions`: "target_index" when the train step computes the loss at loss targets
    only (train.loss_on_targets_only, default True), "image_index" when train.image_buckets > 0
    (default 4; 0: the patch encoder runs on every position), and "action_index" with
    train.action_softmax = "range"."""
    groups = max(mesh.shape["data"] * mesh.shape["fsdp"] // jax.process_count(), 1)
    tc, indexers = config.train, []
    if tc.get("loss_on_targets_only", True):
        observation = observation_loss(tc)
        indexers.append(positions.TargetIndexer(
            groups, int(tc.get("target_buckets", 16)), split_actions(tc),
            int(tc.get("action_buckets", 4)), observation.modalities if observation.enabled
            else ()))
    if int(tc.get("image_buckets", 4)) > 0:
        indexers.append(positions.ImageIndexer(groups, int(tc.image_buckets)))

    def make_batch(local: dict[str, np.ndarray]) -> dict[str, jax.Array]:
        for indexer in indexers:
            local = indexer(local)
        return mesh_lib.global_batch(local, mesh)

    return make_batch


def train_and_evaluate(config: Any, workdir: str | pathlib.Path) -> dict[str, float]:
    """Trains `config` in `workdir`; returns the last step's metrics (floats)."""
    from gato.model.flops import flops_per_token

    workdir = pathlib.Path(workdir)
    validate.validate_config(config)
    tc = config.train
    # ---------------------------------------------------------------- set-up
    model, model_config = build_model(config.model)
    setup_lib.check_context(tc.seq_len, model_config.max_len)
    check_returns(config.data.get("returns"), model_config.return_tokens)
    mesh, rules = setup_lib.setup_mesh(config)
    tx, schedule = make_optimizer(config.optimizer, tc.total_steps)
    state_setup = setup_lib.setup_state(model, tx, mesh, rules, tc.seq_len)
    evaluators = evaluators_lib.build(config, workdir)
    data_iter = setup_lib.setup_data(config, mesh)
    checkpointer = ckpt.Checkpointer(workdir / "checkpoints", tc.keep_checkpoints)
    rng = jax.random.PRNGKey(tc.seed)
    init_rng, step_rng = jax.random.split(rng)
    try:
        state = setup_lib.restore_or_init(config, checkpointer, state_setup, data_iter,
                                          init_rng)
    except BaseException:
        checkpointer.close()
        close_data(data_iter)
        raise
    ckpt.write_config(workdir / "checkpoints", config)  # only now: it matches the checkpoint
    start = int(jax.device_get(state.step))

    make_batch = make_batch_fn(config, mesh)
    step_fn = jit_train_step(config, model, state_setup, mesh)
    flops = flops_per_token(model_config, tc.seq_len)
    peak = peak_flops(config)
    tokens_per_step = tc.batch_size * tc.seq_len
    compiles = metrics_lib.CompileCounter()
    writer = metrics_lib.MetricsWriter(workdir, resume_step=start)
    writer.write(start, {"perf/peak_flops": peak, "perf/flops_per_token": flops})
    bar = tqdm.tqdm(total=tc.total_steps, initial=start, disable=jax.process_index() != 0,
                    desc="train", dynamic_ncols=True)
    last: dict[str, float] = {}
    timer = {"t": time.perf_counter(), "steps": 0}

    def report(step: int, device_metrics: dict[str, jax.Array]) -> None:
        """Fetches step metrics, fails on NaN/inf, logs every log_every steps."""
        nonlocal last
        values = {k: float(v) for k, v in jax.device_get(device_metrics).items()}
        values = metrics_lib.drop_empty_losses(values)
        bad = [k for k in tc.nan_check_keys if k in values and not np.isfinite(values[k])]
        if bad:
            good = checkpointer.newest_verified_step(state_setup.abstract)
            raise FloatingPointError(
                f"non-finite {', '.join(bad)} at step {step}: "
                + ", ".join(f"{k}={values[k]}" for k in bad)
                + (f"; last good checkpoint: step {good} (verified: "
                   f"{checkpointer.directory / str(good)})" if good is not None else
                   f"; no intact checkpoint in {checkpointer.directory}"))
        values |= data_metrics(data_iter)
        timer["steps"] += 1
        bar.update(1)
        bar.set_postfix(loss=f"{values['train/loss']:.4f}")
        log = step % tc.log_every == 0 or step == tc.total_steps
        if step == start + 1:  # exclude compilation from the throughput
            timer.update(t=time.perf_counter(), steps=0)
        elif log:
            elapsed = time.perf_counter() - timer["t"]
            values |= metrics_lib.throughput(timer["steps"] * tokens_per_step, elapsed, flops,
                                             peak) | compiles.totals()
            timer.update(t=time.perf_counter(), steps=0)
            bar.set_postfix(loss=f"{values['train/loss']:.4f}",
                            tok_s=f"{values['train/tokens_per_s']:.0f}")
        if log:
            writer.write(step, values)
        last = {"step": step, **values}

    tracer = profile.StepTracer(
        workdir / "profile", int(tc.get("profile_start", 0)), int(tc.get("profile_steps", 5)),
        lambda batch: step_fn.lower(state_setup.abstract, batch, step_rng))
    # ---------------------------------------------------------------- loop
    pending = None
    try:
        with StopRequest() as stop:
            for step in range(start + 1, tc.total_steps + 1):
                with tracer.step(step):
                    with profile.span("data"):
                        local = next(data_iter)
                    with profile.span("batch"):
                        batch = make_batch(local)
                    with profile.span("dispatch"):
                        state, device_metrics = step_fn(state, batch, step_rng)
                    if pending is not None:
                        with profile.span("report"):
                            report(*pending)
                tracer.finish_step(step, batch, (state, device_metrics))
                pending = (step, device_metrics)
                stopping = stop.any_process()
                if step % tc.checkpoint_every == 0 or step == tc.total_steps or stopping:
                    report(*pending)
                    pending = None
                    checkpointer.save(state, data_iter.get_state())
                for scheduled in evaluators:
                    if scheduled.due(step) and not stopping:
                        writer.write(step, scheduled.evaluator.run(state.params, step))
                if stopping and step < tc.total_steps:
                    raise TrainingStopped(
                        f"stopped by signal after step {step} of {tc.total_steps}; checkpoint "
                        f"saved in {checkpointer.directory}: run the same command to resume")
            if pending is not None:
                report(*pending)
    finally:
        tracer.close()
        bar.close()
        checkpointer.close()
        writer.close()
        close_data(data_iter)
    report_bad_episodes(data_iter)
    return last | data_metrics(data_iter) if last else last


def data_metrics(data_iter: Any) -> dict[str, float]:
    """Data-pipeline counters for the metrics: bad episodes skipped so far (cumulative)."""
    stats = getattr(data_iter, "stats", None)
    if not isinstance(stats, dict) or "bad_episode_skips" not in stats:
        return {}
    return {"data/bad_episode_skips": float(stats["bad_episode_skips"])}


def report_bad_episodes(data_iter: Any) -> None:
    """Logs how many bad episodes were skipped in the run, and the first ones."""
    stats = getattr(data_iter, "stats", None) or {}
    if stats.get("bad_episode_skips"):
        logging.warning("skipped %d bad episode reads (data.on_bad_episode='skip'); first: %s",
                        stats["bad_episode_skips"], "; ".join(stats.get("bad_episodes", [])[:5]))


def close_data(data_iter: Any) -> None:
    """Stops the data iterator's worker processes, if it has any."""
    close = getattr(data_iter, "close", None)
    if callable(close):
        close()
