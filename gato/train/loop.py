"""`train_and_evaluate(config, workdir)`: the one train loop (data-parallel, multi-host ready).

Each step: this host's batch -> global sharded arrays -> jitted train step (donated state).
Metrics of step s are fetched while step s+1 runs, checked for NaN/inf (the run stops with an
error naming the step; the bad state is never saved), and written every `log_every` steps
with the throughput since the last write and the XLA compilations since the run started
(`perf/compiles`, `perf/compile_s`: every new bucketed batch shape compiles the step again).
Checkpoints every `checkpoint_every` steps, at the end, and on SIGTERM/SIGINT (the current step
finishes, the state is saved, then `gato.errors.TrainingStopped` is raised: the run is not done).

Three parts: `setup_run` (model, mesh, state shapes, evaluators, data, checkpointer and the
start state, as a `TrainSetup`), `gato.train.reporter.Reporter` (each step's metrics) and
`train_loop`. The workdir (`gato.rundir.RunDir`) is held for the whole run: a second training
process on it is refused in one line naming the holder (pid, host, start time).

Before any work the config is validated (`gato.train.validate`); config.json is written only
once the run has started from a checkpoint that matches it (or from scratch). A resumed run
drops the metrics rows after its start step (they are re-run). Bad episodes skipped by the data
pipeline are counted in the metrics (`data/bad_episode_skips`) and in the returned summary.
With train.profile_start > 0, train.profile_steps steps from there are traced into
WORKDIR/profile (`gato.train.profile`; read by `benchmarks.step_profile`).
"""

import contextlib
import dataclasses
import functools
import logging
import pathlib
import signal
from typing import Any

import jax
import ml_collections
import numpy as np

from gato import host_memory
from gato.envs.returns import check_model as check_returns
from gato.errors import TrainingStopped
from gato.model.build import build_model
from gato.model.loss import NO_OBSERVATION_LOSS, ObservationLoss
from gato.rundir import RunDir
from gato.tokenizers.sequence import Modality
from gato.train import checkpoint as ckpt
from gato.train import evaluators as evaluators_lib
from gato.train import mesh as mesh_lib
from gato.train import metrics as metrics_lib
from gato.train import positions, profile, validate
from gato.train import setup as setup_lib
from gato.train.optimizer import make_optimizer
from gato.train.reporter import Reporter, data_metrics, report_bad_episodes
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
    per_device = float(config.train.peak_flops_per_device or 0.0)
    if per_device <= 0:
        per_device = metrics_lib.measure_matmul_flops()
        logging.info("measured matmul rate: %.3g FLOP/s per device", per_device)
    return per_device * jax.device_count()


ACTION_SOFTMAX = ("vocab", "range")


def split_actions(train_config: Any) -> bool:
    """train.action_softmax: "vocab" (Gato: an action target's softmax spans the vocabulary) or
    "range" (only its own range, `range_targets_loss`; needs train.loss_on_targets_only)."""
    mode = train_config.action_softmax
    if mode not in ACTION_SOFTMAX:
        raise ValueError(f"train.action_softmax must be one of {ACTION_SOFTMAX}, got {mode!r}")
    if mode == "range" and not train_config.loss_on_targets_only:
        raise ValueError('train.action_softmax="range" needs train.loss_on_targets_only=True')
    return mode == "range"


OBSERVATION_KINDS = {"continuous": Modality.CONTINUOUS, "discrete": Modality.DISCRETE}


def observation_loss(train_config: Any) -> ObservationLoss:
    """train.observation_weight (0: Gato's objective) and train.observation_kinds (comma-
    separated names of OBSERVATION_KINDS) as a `gato.model.loss.ObservationLoss`."""
    kinds = [k.strip() for k in str(train_config.observation_kinds).split(",") if k.strip()]
    unknown = sorted(set(kinds) - set(OBSERVATION_KINDS))
    if unknown:
        raise ValueError(f"train.observation_kinds: unknown kind(s) {unknown}; expected some of "
                         f"{sorted(OBSERVATION_KINDS)}")
    return ObservationLoss(float(train_config.observation_weight),
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
                          tc.num_task_ids, tc.loss_on_targets_only, float(tc.label_sigma),
                          split_actions(tc),
                          observation_loss(tc)),
        in_shardings=(state_setup.shardings, mesh_lib.batch_sharding(mesh),
                      mesh_lib.replicated(mesh)),
        out_shardings=(state_setup.shardings, mesh_lib.replicated(mesh)),
        donate_argnums=0,
    )


def make_batch_fn(config: Any, mesh: Any):
    """Per-host numpy batch -> global sharded batch, plus the position lists of
    `gato.train.positions`: "target_index" when the train step computes the loss at loss targets
    only (train.loss_on_targets_only), "image_index" when train.image_buckets > 0 (0: the patch
    encoder runs on every position), and "action_index" with train.action_softmax = "range"."""
    groups = max(mesh.shape["data"] * mesh.shape["fsdp"] // jax.process_count(), 1)
    tc, indexers = config.train, []
    if tc.loss_on_targets_only:
        observation = observation_loss(tc)
        indexers.append(positions.TargetIndexer(
            groups, int(tc.target_buckets), split_actions(tc), int(tc.action_buckets),
            observation.modalities if observation.enabled else ()))
    if int(tc.image_buckets) > 0:
        indexers.append(positions.ImageIndexer(groups, int(tc.image_buckets)))

    def make_batch(local: dict[str, np.ndarray]) -> dict[str, jax.Array]:
        for indexer in indexers:
            local = indexer(local)
        return mesh_lib.global_batch(local, mesh)

    return make_batch


def train_and_evaluate(config: Any, workdir: str | pathlib.Path) -> dict[str, float]:
    """Trains `config` in `workdir`; returns the last step's metrics (floats).

    The workdir is held for the whole run (`RunDir.hold`, by process 0): a second training
    process on it is refused with RunDirInUseError before anything is written.
    """
    validate.validate_config(config)
    host_memory.release_compiled()  # a long study's earlier programs (gato.host_memory)
    run = RunDir(workdir)
    with run.hold(enabled=jax.process_index() == 0):
        with contextlib.ExitStack() as resources:  # closed in reverse, on errors too
            setup = setup_run(config, run, resources)
            last = train_loop(setup, resources)
        report_bad_episodes(setup.data_iter)
    return last | data_metrics(setup.data_iter) if last else last


@dataclasses.dataclass
class TrainSetup:
    """What the loop runs on, made by `setup_run` before any step."""

    config: Any
    rundir: RunDir
    model: Any
    model_config: Any  # gato.model.ModelConfig
    mesh: Any
    state_setup: setup_lib.StateSetup
    evaluators: list  # gato.train.evaluators' scheduled evaluators
    data_iter: Any  # this host's batches; get_state / set_state
    checkpointer: ckpt.Checkpointer
    state: Any  # the TrainState the run starts from (restored or fresh)
    start: int  # its step
    step_rng: jax.Array


def setup_run(config: Any, run: RunDir, resources: contextlib.ExitStack) -> TrainSetup:
    """Model, mesh, state shapes, evaluators, data and checkpointer, then the start state:
    the workdir's checkpoint, checkpoint.resume_from, init_from or scratch
    (`gato.train.setup.restore_or_init`). The data iterator and the checkpointer are closed by
    `resources`. config.json is written only once the start state matches the config."""
    tc = config.train
    model, model_config = build_model(config.model)
    setup_lib.check_context(tc.seq_len, model_config.max_len)
    check_returns(config.data.returns, model_config.return_tokens)
    mesh, rules = setup_lib.setup_mesh(config)
    tx, _ = make_optimizer(config.optimizer, tc.total_steps)
    state_setup = setup_lib.setup_state(model, tx, mesh, rules, tc.seq_len)
    evaluators = evaluators_lib.build(config, run.root)
    data_iter = setup_lib.setup_data(config, mesh)
    resources.callback(close_data, data_iter)
    checkpointer = ckpt.Checkpointer(run.checkpoints, tc.keep_checkpoints)
    resources.callback(checkpointer.close)
    init_rng, step_rng = jax.random.split(jax.random.PRNGKey(tc.seed))
    state = setup_lib.restore_or_init(config, checkpointer, state_setup, data_iter, init_rng)
    ckpt.write_config(run.checkpoints, config)  # only now: it matches the checkpoint
    return TrainSetup(config, run, model, model_config, mesh, state_setup, evaluators,
                      data_iter, checkpointer, state, int(jax.device_get(state.step)), step_rng)


def train_loop(setup: TrainSetup, resources: contextlib.ExitStack) -> dict[str, float]:
    """Steps from setup.start to train.total_steps: reports every step, saves every
    checkpoint_every steps, at the end and on a stop signal, runs the due evaluators; returns
    the last step's metrics ({} when there was no step to run)."""
    from gato.model.flops import flops_per_token

    s, tc = setup, setup.config.train
    make_batch = make_batch_fn(s.config, s.mesh)
    step_fn = jit_train_step(s.config, s.model, s.state_setup, s.mesh)
    flops = flops_per_token(s.model_config, tc.seq_len)
    peak = peak_flops(s.config)
    writer = metrics_lib.MetricsWriter(s.rundir, resume_step=s.start)
    resources.callback(writer.close)
    writer.write(s.start, {"perf/peak_flops": peak, "perf/flops_per_token": flops})
    report = Reporter(tc, s.start, writer, s.checkpointer, s.state_setup.abstract, s.data_iter,
                      flops, peak)
    resources.callback(report.close)
    tracer = profile.StepTracer(
        s.rundir.profile, int(tc.profile_start), int(tc.profile_steps),
        lambda batch: step_fn.lower(s.state_setup.abstract, batch, s.step_rng))
    resources.callback(tracer.close)

    state, pending = s.state, None
    with StopRequest() as stop:
        for step in range(s.start + 1, tc.total_steps + 1):
            with tracer.step(step):
                with profile.span("data"):
                    local = next(s.data_iter)
                with profile.span("batch"):
                    batch = make_batch(local)
                with profile.span("dispatch"):
                    state, device_metrics = step_fn(state, batch, s.step_rng)
                if pending is not None:  # the previous step's metrics, while this one runs
                    with profile.span("report"):
                        report(*pending)
            tracer.finish_step(step, batch, (state, device_metrics))
            pending = (step, device_metrics)
            # ------------------------------------------------ checkpoints, evaluators, stop
            stopping = stop.any_process()
            if step % tc.checkpoint_every == 0 or step == tc.total_steps or stopping:
                report(*pending)  # never save a state whose metrics are not finite
                pending = None
                s.checkpointer.save(state, s.data_iter.get_state())
            for scheduled in s.evaluators:
                if scheduled.due(step) and not stopping:
                    writer.write(step, scheduled.evaluator.run(state.params, step))
            if stopping and step < tc.total_steps:
                raise TrainingStopped(
                    f"stopped by signal after step {step} of {tc.total_steps}; checkpoint "
                    f"saved in {s.checkpointer.directory}: run the same command to resume")
        if pending is not None:
            report(*pending)
    return report.last


def close_data(data_iter: Any) -> None:
    """Stops the data iterator's worker processes, if it has any."""
    close = getattr(data_iter, "close", None)
    if callable(close):
        close()
