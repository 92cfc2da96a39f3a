"""Control latency: model time per environment step of action decoding, with and without KV cache.

    .venv/bin/python -m benchmarks.control_latency [--sizes tiny,79m] \
        [--tasks cartpole-swingup,walker-walk] [--steps 20] [--no-cache-steps 3] [--context 1024] \
        [--modes kv-cache,no-cache]

Batch 1 (one robot), float32, random-init params (speed does not depend on training), after jit
compilation. Per environment step the model tokenizes the observation and decodes the action
tokens one at a time, each constrained to the task's action range; the environment's own physics
step is timed apart ("env ms") and not counted in "mean/p90 ms" or "Hz".

Both modes start from the same history: --context tokens of random-action timesteps of the task's
environment (the paper's real-time figure is with a full context window).

  kv-cache  `gato.eval.ModelAgent` as deployed (cache_len = --context), its cache filled with the
            history as a prompt: per step one `Gato.decode_last` call appends the previous action
            token, the observation and the separator and samples the first action token; one call
            per further action token. Attention always spans the whole ring buffer; only the last
            token's logits of the task's action ids are computed.
  no-cache  naive decoding: for every action token, a fresh forward pass over the last --context
            tokens of the history. Only the last position's logits go through the output layer,
            which favours this mode slightly.

The closing lines say whether the 79m model meets 20 Hz with the KV cache, next to the
memory-bound floor: at batch 1 every decoded token reads all decoder weights once (timed here as
a jitted sum over them; the agent reads only the action rows of the tied output layer), so a step
costs at least action tokens x that read.

"compile s" is the time of the first steps minus that of steady steps (jit compilation of each
distinct chunk shape). The machine is shared, so figures are somewhat noisy.
"""

import argparse
import time
from typing import Any, NamedTuple

import dm_env
import jax
import jax.numpy as jnp
import numpy as np

from gato.envs import registry
from gato.eval.agent import ModelAgent, sample_rows
from gato.model import Gato, get_model_config
from gato.model.gato import MODEL_FIELDS, decoding_params
from gato.testing.model import init_params
from gato.tokenizers import sequence as seqlib
from gato.tokenizers.sequence import Modality, TokenSequence
from gato.tokenizers.spec import TimestepSpec
from gato.tokenizers.timestep import (
    action_token_range,
    detokenize_action,
    tokenize_observation,
    tokenize_timestep,
)
from gato.tokenizers.vocab import SEPARATOR_ID

TARGET_HZ = 20.0


class Result(NamedTuple):
    """One row of the table; times in milliseconds per environment step except compile_s."""

    size: str
    task: str
    tokens_per_step: int
    mode: str
    mean_ms: float
    p90_ms: float
    env_ms: float
    compile_s: float
    steps: int

    @property
    def hz(self) -> float:
        return 1000.0 / self.mean_ms


def _last_logits(module: Gato, batch: dict[str, jax.Array]) -> jax.Array:
    """Full forward over batch [B, L]; logits [B, V] of the last position only."""
    x = module.embed(batch, train=False)
    x, _ = module.decoder(x, deterministic=True)
    return module.embed.attend(x[:, -1])


class NoCacheAgent:
    """Naive decoder: recomputes the forward pass over the last `context` history tokens for
    every action token (batch 1); the history grows by each observation, separator and action."""

    def __init__(self, model: Gato, params: Any, spec: TimestepSpec, history: TokenSequence,
                 context: int, seed: int = 0):
        if seqlib.length(history) < context:
            raise ValueError(f"history has {seqlib.length(history)} tokens < context {context}")
        self.params, self.spec, self.context = params, spec, context
        self.lo, self.hi = action_token_range(spec)
        self.history = history
        self._keys = jax.random.PRNGKey(seed)[None]
        self._count = 0
        self.modality = (Modality.DISCRETE if spec.action_kind == "discrete"
                         else Modality.CONTINUOUS)

        def sample(params, batch, keys, count):
            logits = model.apply({"params": params}, batch, method=_last_logits)
            return sample_rows(logits, keys, count, jnp.float32(1.0), lo=self.lo, hi=self.hi,
                               mode="sample")

        self._sample = jax.jit(sample)

    def _append(self, seq: TokenSequence) -> None:
        """Appends `seq` and keeps the last `context` tokens."""
        n = seqlib.length(self.history) + seqlib.length(seq)
        self.history = seqlib.slice_(seqlib.concat([self.history, seq]), n - self.context, n)

    def act(self, timestep: dm_env.TimeStep) -> np.ndarray:
        obs = tokenize_observation(self.spec, timestep.observation)
        self._append(seqlib.concat([obs, _token(SEPARATOR_ID, Modality.SEPARATOR, False)]))
        ids = []
        for _ in range(self.spec.action_size):
            window = {k: jnp.asarray(self.history[k][None]) for k in MODEL_FIELDS}
            ids.append(int(self._sample(self.params, window, self._keys,
                                        jnp.int32(self._count))[0]))
            self._count += 1
            self._append(_token(ids[-1], self.modality, True))
        return detokenize_action(self.spec, np.asarray(ids))


def _token(token_id: int, modality: Modality, is_action: bool) -> TokenSequence:
    """A one-token sequence (loss on action tokens, as in a tokenized timestep)."""
    seq = seqlib.empty(1)
    seq["tokens"][0], seq["modality"][0] = token_id, modality
    seq["is_action"][0] = seq["loss_mask"][0] = is_action
    return seq


def _random_history(task: registry.Task, context: int, seed: int):
    """(env, current timestep, >= `context` tokens of random-action timesteps of that env)."""
    spec, rng = task.spec, np.random.default_rng(seed)
    env = task.make_env(seed)
    timestep, parts, n = env.reset(), [], 0
    while n < context:
        action = rng.uniform(spec.action_minimum, spec.action_maximum).astype(np.float32)
        parts.append(tokenize_timestep(spec, timestep.observation, action))
        n += seqlib.length(parts[-1])
        timestep = env.step(action)
        if timestep.last():
            timestep = env.reset()
    return env, timestep, seqlib.concat(parts)


def _run_steps(env: dm_env.Environment, timestep: dm_env.TimeStep, act, steps: int):
    """Acts `steps` times; returns (model ms per step, env ms per step, last timestep)."""
    model_ms, env_ms = [], []
    for _ in range(steps):
        if timestep.last():
            timestep = env.reset()
        start = time.perf_counter()
        action = act(timestep)
        mid = time.perf_counter()
        timestep = env.step(action)
        model_ms.append(1e3 * (mid - start))
        env_ms.append(1e3 * (time.perf_counter() - mid))
    return model_ms, env_ms, timestep


def _result(size: str, task: str, tpt: int, mode: str, first_ms: list[float], ms: list[float],
            env_ms: list[float]) -> Result:
    """Row from timed steps; compile time = the first steps' excess over the steady median."""
    compile_s = max(0.0, sum(first_ms) - len(first_ms) * float(np.median(ms))) / 1e3
    return Result(size, task, tpt, mode, float(np.mean(ms)), float(np.percentile(ms, 90)),
                  float(np.mean(env_ms)), compile_s, len(ms))


def bench_kv_cache(size: str, model: Gato, params: Any, task: registry.Task, context: int,
                   steps: int, seed: int = 0) -> Result:
    """`ModelAgent` whose cache is first filled with `context` tokens of history (as a prompt),
    then two compile steps and `steps` timed steps."""
    env, timestep, history = _random_history(task, context, seed)
    agent = ModelAgent(model, params, task.spec, cache_len=context)
    prompt = {k: v[None, -context:] for k, v in history.items()}
    agent.reset(1, prompt, seeds=[seed])
    active = np.ones(1, bool)
    act = lambda ts: agent.act([ts], active)[0]
    # the first two steps compile: without, then with the previous action token in the chunk
    warm_ms, _, timestep = _run_steps(env, timestep, act, 2)
    ms, env_ms, _ = _run_steps(env, timestep, act, steps)
    return _result(size, task.name, _tokens_per_step(task, timestep), "kv-cache", warm_ms, ms,
                   env_ms)


def _tokens_per_step(task: registry.Task, timestep: dm_env.TimeStep) -> int:
    return (seqlib.length(tokenize_observation(task.spec, timestep.observation)) + 1
            + task.spec.action_size)


def bench_no_cache(size: str, model: Gato, params: Any, task: registry.Task, context: int,
                   steps: int, seed: int = 0) -> Result:
    """`NoCacheAgent` over a history of `context` tokens: one compile step, `steps` timed."""
    env, timestep, history = _random_history(task, context, seed)
    agent = NoCacheAgent(model, params, task.spec, history, context, seed)
    first_ms, _, timestep = _run_steps(env, timestep, agent.act, 1)
    ms, env_ms, _ = _run_steps(env, timestep, agent.act, steps)
    return _result(size, task.name, _tokens_per_step(task, timestep), "no-cache", first_ms, ms,
                   env_ms)


def weight_read_ms(params: Any, repeats: int = 5) -> float:
    """Milliseconds to read every leaf of `params` once (a jitted sum): given the decoder weights,
    the memory-bound floor of one decoded token at batch 1."""
    read = jax.jit(lambda p: sum(jnp.sum(x) for x in jax.tree.leaves(p)))
    jax.block_until_ready(read(params))
    start = time.perf_counter()
    for _ in range(repeats):
        jax.block_until_ready(read(params))
    return 1e3 * (time.perf_counter() - start) / repeats


HEADER = (f"{'size':>5} {'task':>17} {'tok/step':>8} {'mode':>8} {'mean ms':>9} {'p90 ms':>9} "
          f"{'Hz':>7} {'env ms':>7} {'compile s':>9} {'steps':>5}")


def format_row(r: Result) -> str:
    return (f"{r.size:>5} {r.task:>17} {r.tokens_per_step:>8} {r.mode:>8} {r.mean_ms:>9.1f} "
            f"{r.p90_ms:>9.1f} {r.hz:>7.2f} {r.env_ms:>7.2f} {r.compile_s:>9.1f} {r.steps:>5}")


def verdict(results: list[Result], read_ms: dict[str, float], action_sizes: dict[str, int],
            size: str = "79m") -> list[str]:
    """One line per task: does `size` with the KV cache act at TARGET_HZ (mean and p90)? With the
    memory-bound floor: one full weight read per action token."""
    lines = []
    for r in results:
        if r.size == size and r.mode == "kv-cache":
            p90_hz = 1000.0 / r.p90_ms
            ok = "MEETS" if r.hz >= TARGET_HZ else "MISSES"
            floor = action_sizes[r.task] * read_ms[size]
            lines.append(f"{size} kv-cache {r.task}: {ok} {TARGET_HZ:.0f} Hz "
                         f"(mean {r.hz:.1f} Hz, p90 {p90_hz:.1f} Hz; model time only; "
                         f"floor {action_sizes[r.task]} tokens x {read_ms[size]:.1f} ms "
                         f"decoder weight read = {floor:.0f} ms, {1000 / floor:.0f} Hz)")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="tiny,79m", help="comma-separated model sizes")
    parser.add_argument("--tasks", default="cartpole-swingup,walker-walk",
                        help="comma-separated control tasks")
    parser.add_argument("--steps", type=int, default=20, help="timed steps, kv-cache mode")
    parser.add_argument("--no-cache-steps", type=int, default=3,
                        help="timed steps, no-cache mode (each is one full forward per token)")
    parser.add_argument("--context", type=int, default=1024, help="history window in tokens")
    parser.add_argument("--modes", default="kv-cache,no-cache", help="comma-separated modes")
    args = parser.parse_args()
    benches = {"kv-cache": (bench_kv_cache, args.steps),
               "no-cache": (bench_no_cache, args.no_cache_steps)}
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if not modes or set(modes) - set(benches):
        raise SystemExit(f"--modes {args.modes!r}: choose from {sorted(benches)}")
    if min(args.steps, args.no_cache_steps, args.context) <= 0:
        raise SystemExit("--steps, --no-cache-steps and --context must be positive")
    tasks = registry.select(task_names=args.tasks)
    print(f"devices: {jax.device_count()} x {jax.devices()[0].device_kind}; batch 1, float32, "
          f"context {args.context} tokens; random-init params; shared machine: noisy figures")
    print(HEADER, flush=True)
    results, read_ms = [], {}
    for size in [s.strip() for s in args.sizes.split(",") if s.strip()]:
        config = get_model_config(size)
        model, params = Gato(config), init_params(config)
        read_ms[size] = weight_read_ms(decoding_params(config, params)["decoding"])
        for task in tasks:
            for bench, steps in (benches[m] for m in modes):
                results.append(bench(size, model, params, task, args.context, steps))
                print(format_row(results[-1]), flush=True)
    print("decoder weight read per token (ms): "
          + ", ".join(f"{k} {v:.1f}" for k, v in read_ms.items()))
    for line in verdict(results, read_ms, {t.name: t.spec.action_size for t in tasks}):
        print(line)


if __name__ == "__main__":
    main()
