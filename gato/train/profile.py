"""A jax.profiler trace of a window of train steps, and where their time went.

    tracer = StepTracer(workdir / "profile", start=20, count=5, lower=...)  # train.profile_*
    with tracer.step(step):                       # around each loop iteration
        ...
    tracer.finish_step(step, batch, outputs)
    summary = summarize(workdir / "profile")      # benchmarks.step_profile prints it

Steps `start .. start + count - 1` are traced (start 0: never) into a Perfetto JSON
(`profile/plugins/profile/<time>/perfetto_trace.json.gz`, readable at ui.perfetto.dev): the Python
thread's spans (each step a `train` step annotation holding the loop's `data`, `batch`,
`dispatch` and `report` spans) and XLA:CPU's executed ops (thunks, named by HLO instruction).
The last traced step is waited for before the trace stops, so its device work is inside. Then
the optimized HLO of every batch shape the window ran is written beside it
(`train_step_<i>.hlo.txt`, from the jit cache: no new compilation), so `summarize` can give each
executed op its source (`op_name` metadata: forward/backward, model module).
"""

import collections
import contextlib
import gzip
import json
import logging
import pathlib
import re
import statistics
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import jax

SPANS = ("data", "batch", "dispatch", "report")  # the loop's host-side spans, in order
# (component, pattern on the op_name) in priority order; the first match names the component
COMPONENTS = (
    ("output logits", re.compile(r"logits_from_hidden|\.attend|_logit_rows")),
    ("patch encoder", re.compile(r"patch_encoder")),
    ("embeddings", re.compile(r"Gato\.hidden/embed")),
    ("norms", re.compile(r"_norm/|final_norm")),
    ("attention", re.compile(r"/attention/")),
    ("mlp", re.compile(r"/mlp")),
    ("residual & scan", re.compile(r"Gato\.hidden/decoder")),
    ("loss", re.compile(r"jvp\(")),  # differentiated, outside the model's modules
)
TRACE_EVENT_LIMIT = 1_000_000  # the profiler keeps at most this many events
CONTROL_OPCODES = {"while", "call", "conditional"}  # their bodies' ops are traced themselves
HLO_LINE = re.compile(r"^\s*(?:ROOT\s+)?%?([\w.\-]+) = .*?\s([\w\-]+)\((.*)")
OP_NAME = re.compile(r'op_name="([^"]*)"')


class StepTracer:
    """Starts jax.profiler at step `start`, stops it after step `start + count - 1`.

    lower(batch) -> jax.stages.Lowered of the train step for that batch's shapes (to write the
    optimized HLO the window ran); None: no HLO is written.
    """

    def __init__(self, directory: str | pathlib.Path, start: int, count: int,
                 lower: Callable[[Any], Any] | None = None):
        self.directory, self.start, self.count = pathlib.Path(directory), start, count
        self.lower, self.active = lower, False
        self.batches: dict[tuple, Any] = {}  # shape signature -> abstract batch

    @property
    def stop_step(self) -> int:
        return self.start + self.count - 1

    @contextlib.contextmanager
    def step(self, step: int) -> Iterator[None]:
        """Traces `step` if it is in the window; the step's work goes inside the block."""
        if self.start > 0 and step == self.start:
            self.directory.mkdir(parents=True, exist_ok=True)
            options = jax.profiler.ProfileOptions()
            # no Python function tracing: a compilation inside the window (a new batch shape)
            # traces millions of calls, filling the profiler's 1M-event buffer
            options.python_tracer_level = 0
            jax.profiler.start_trace(str(self.directory), create_perfetto_trace=True,
                                     profiler_options=options)
            self.active = True
        with jax.profiler.StepTraceAnnotation("train", step_num=step):
            yield

    def finish_step(self, step: int, batch: Mapping[str, jax.Array], outputs: Any) -> None:
        """After the step's dispatch: at the window's last step, waits for it, stops the trace
        and writes the HLO of each batch shape seen."""
        if not self.active:
            return
        signature = tuple(sorted((k, tuple(v.shape)) for k, v in batch.items()))
        self.batches.setdefault(signature, jax.tree.map(
            lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=x.sharding), batch))
        if step >= self.stop_step:
            jax.block_until_ready(outputs)
            self.close()

    def close(self) -> None:
        """Stops an unfinished trace (the run ended inside the window) and writes the HLO."""
        if not self.active:
            return
        jax.profiler.stop_trace()
        self.active = False
        if self.lower is not None:
            for i, batch in enumerate(self.batches.values()):
                text = self.lower(batch).compile().as_text()
                (self.directory / f"train_step_{i}.hlo.txt").write_text(text)
        logging.info("profile of steps %d-%d written to %s", self.start, self.stop_step,
                     self.directory)


def span(name: str) -> contextlib.AbstractContextManager:
    """A named span of the Python thread in the trace (costs ~1 us when not tracing)."""
    return jax.profiler.TraceAnnotation(name)


def read_hlo_ops(texts: list[str]) -> dict[str, tuple[str, str]]:
    """HLO instruction name -> (opcode, op_name metadata), over optimized HLO module texts."""
    ops: dict[str, tuple[str, str]] = {}
    for text in texts:
        for line in text.splitlines():
            match = HLO_LINE.match(line)
            if match:
                name_meta = OP_NAME.search(line)
                ops.setdefault(match.group(1), (match.group(2),
                                                name_meta.group(1) if name_meta else ""))
    return ops


def classify(op_name: str) -> tuple[str, str]:
    """op_name metadata -> (phase, component); phase: forward, backward or update (the
    optimizer, norms and metrics after the gradient)."""
    phase = ("backward" if "transpose(" in op_name else "forward" if "jvp(" in op_name
             else "update")
    if phase == "update":
        return phase, "optimizer & metrics"
    for component, pattern in COMPONENTS:
        if pattern.search(op_name):
            return phase, component
    return phase, "other"


def newest_trace(directory: str | pathlib.Path) -> pathlib.Path:
    traces = sorted(pathlib.Path(directory).glob("plugins/profile/*/perfetto_trace.json.gz"))
    if not traces:
        raise FileNotFoundError(f"no perfetto_trace.json.gz under {directory}/plugins/profile: "
                                "train with train.profile_start > 0 first")
    return traces[-1]


def summarize(directory: str | pathlib.Path) -> dict[str, Any]:
    """Per traced step: wall time, the host spans, the executed XLA ops of the train step
    grouped by phase and component, and the costliest ops. Times in ms per step.

    The train step's executions are told apart by their run id; the last N of them (N traced
    steps) count, an earlier one is the step before the window, still running when it began.
    Wall time per step: from the end of that earlier execution (or the first traced step's
    start) to the end of the last one, over N (a compilation in the window counts here).
    Execution time: the median over the counted executions of first op start to last op end.
    Op time: the sum of the counted executions' ops (thunks) on all threads, so above the
    execution time where ops overlap; control-flow thunks (while, call) are left out, their
    bodies' ops count.
    """
    directory = pathlib.Path(directory)
    with gzip.open(newest_trace(directory)) as file:
        events = json.load(file)
    events = events["traceEvents"] if isinstance(events, dict) else events
    if len(events) >= TRACE_EVENT_LIMIT:
        logging.warning("%s holds %d events, the profiler's limit: later events are missing",
                        newest_trace(directory), len(events))
    ops = read_hlo_ops([p.read_text() for p in sorted(directory.glob("train_step_*.hlo.txt"))])
    complete = [e for e in events if e.get("ph") == "X"]
    steps = [e for e in complete if e["name"] == "train" and "step_num" in e.get("args", {})]
    if not steps:
        raise ValueError(f"no traced train steps in {newest_trace(directory)}")
    spans: dict[str, float] = collections.defaultdict(float)
    runs: dict[str, list[dict]] = collections.defaultdict(list)  # run id -> its op events
    for event in complete:
        args = event.get("args") or {}
        if event["name"] in SPANS:
            spans[event["name"]] += event["dur"]
        elif ("train_step" in str(args.get("hlo_module", "")) and "hlo_op" in args
              and ops.get(args["hlo_op"], ("", ""))[0] not in CONTROL_OPCODES):
            runs[str(args.get("run_id", ""))].append(event)
    if not runs:
        raise ValueError(f"no executed train step ops in {newest_trace(directory)}")
    ordered = sorted(runs.values(), key=lambda run: min(e["ts"] for e in run))
    earlier, counted = ordered[:-len(steps)], ordered[-len(steps):]
    begin = max((e["ts"] + e["dur"] for run in earlier for e in run),
                default=min(e["ts"] for e in steps))
    end = max(e["ts"] + e["dur"] for run in counted for e in run)
    n = len(counted)
    by_group: dict[tuple[str, str], float] = collections.defaultdict(float)
    by_op: dict[str, float] = collections.defaultdict(float)
    for event in (e for run in counted for e in run):
        opcode, op_name = ops.get(event["args"]["hlo_op"], ("", ""))
        group = classify(op_name) if op_name else ("?", f"{opcode or 'unknown'} (no source)")
        by_group[group] += event["dur"]
        by_op[event["args"]["hlo_op"]] += event["dur"]
    phases: dict[str, float] = collections.defaultdict(float)
    components: dict[str, float] = collections.defaultdict(float)
    for (phase, component), us in by_group.items():
        phases[phase] += us / n / 1e3
        components[component] += us / n / 1e3
    top = sorted(by_op.items(), key=lambda kv: -kv[1])[:15]
    return {
        "steps": sorted(int(e["args"]["step_num"]) for e in steps), "executions": n,
        "wall_ms": (end - begin) / n / 1e3, "op_ms": sum(by_group.values()) / n / 1e3,
        "execution_ms": statistics.median(
            max(e["ts"] + e["dur"] for e in run) - min(e["ts"] for e in run)
            for run in counted) / 1e3,
        "host_ms": {name: spans[name] / len(steps) / 1e3 for name in SPANS},
        "phase_ms": dict(sorted(phases.items(), key=lambda kv: -kv[1])),
        "component_ms": dict(sorted(components.items(), key=lambda kv: -kv[1])),
        "top_ops": [{"op": name, "ms": us / n / 1e3, "opcode": ops.get(name, ("", ""))[0],
                     "op_name": ops.get(name, ("", ""))[1]} for name, us in top],
    }
