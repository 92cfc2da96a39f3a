"""Agents the rollout loop drives: the `Agent` interface and the model-backed `ModelAgent`.

`ModelAgent` deploys a Gato checkpoint as the paper does (section 2.3): the prompt goes through
the KV cache first; then, every timestep, the observation tokens and a separator are appended
with one `extend` call, and the action tokens are sampled one at a time, each constrained to the
task's action token range, and appended to the cache (the last one together with the next
observation). One jitted call per decoded token (append the previous token, sample the next)
serves all environments of the batch; the cache is updated in place (donated). The agent decodes
with `Gato.decode_last` on parameters re-laid out once when it is built (`decoding_params`):
only the last position is projected onto only the task's action ids, sampled as if over the
whole vocabulary masked to the range (`gato.eval.decoding.sample_in_range`).

A model with return-to-go tokens gets each timestep's return token where its spec places it
(`gato.tokenizers.returns`), filled per `gato.eval.returns.ReturnConditioning`: a fixed target
starts the episode's return-to-go and each reward the environment reports is subtracted from
it; the sampling modes ("none", "expert") extend the cache up to the return token's position,
project onto the return bins only and draw the bin (`sample_expert_returns`), then go on with
the action. Per row, so batched environments, prompts (which carry their own return tokens)
and the cache compose as without returns.

With frame stacking (`spec.frame_stack` > 1) each row keeps its episode's last frames and shows
them as training did (`_observation`).
"""

import functools
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, Protocol

import dm_env
import jax
import jax.numpy as jnp
import numpy as np

from gato.eval.decoding import check_mode, expected_index, mask_to_range, sample_in_range
from gato.eval.returns import ReturnConditioning, sample_expert_returns
from gato.model import Gato, init_cache
from gato.model.gato import MODEL_FIELDS, decoding_params
from gato.tokenizers import returns as returns_lib
from gato.tokenizers import sequence as seqlib
from gato.tokenizers.image import stack_frames
from gato.tokenizers.sequence import Modality, TokenSequence
from gato.tokenizers.spec import TimestepSpec
from gato.tokenizers.timestep import (
    action_token_range,
    detokenize_action,
    flatten,
    tokenize_observation,
)
from gato.tokenizers.vocab import SEPARATOR_ID


class Agent(Protocol):
    """What the rollout loop needs from an agent acting in B environments of one task.

    `reset` starts B episodes (prompt: batched TokenSequence fields [B, L, ...] or None; envs and
    seeds: the B environments, None where one failed to start, and their episode seeds).
    `act` returns one action per environment for the rows where `active` [B] is True (entries of
    inactive rows are ignored; their timesteps may be None or stale).
    """

    def reset(self, batch_size: int, prompt: TokenSequence | None, *,
              envs: Sequence[dm_env.Environment | None] = (), seeds: Sequence[int] = ()
              ) -> None: ...

    def act(self, timesteps: Sequence[dm_env.TimeStep | None], active: np.ndarray
            ) -> list[Any]: ...


RETURN_STREAM = 0x52455455  # folded into the episode keys for the return draws' own stream


def _single(tokens: np.ndarray, modality: Modality, is_action: bool,
            loss: bool | None = None) -> TokenSequence:
    """A [B, 1] chunk of one token per row."""
    seq = {k: v[:, None] for k, v in seqlib.empty(len(tokens)).items()}
    seq["tokens"][:, 0] = tokens
    seq["modality"][:] = modality
    seq["is_action"][:] = is_action
    seq["loss_mask"][:] = is_action if loss is None else loss
    return seq


@functools.partial(jax.jit, static_argnames=("lo", "hi", "mode"))
def sample_rows(logits: jax.Array, keys: jax.Array, count: jax.Array, temperature: jax.Array,
                lo: int, hi: int, mode: str) -> jax.Array:
    """One id in [lo, hi) per row of logits [B, V] (mode: `gato.eval.decoding.DECODING_MODES`);
    row b samples with fold_in(keys[b], count) (keys: uint32 [B, 2]), so a row's draws do not
    depend on the other rows. Returns int32 [B]. The full-vocabulary reference of
    `sample_in_range`."""
    check_mode(mode)
    masked = mask_to_range(logits.astype(jnp.float32), lo, hi)
    if mode == "greedy":
        return jnp.argmax(masked, axis=-1).astype(jnp.int32)
    if mode == "mean":
        return lo + expected_index(masked[:, lo:hi], temperature)
    step_keys = jax.vmap(lambda k: jax.random.fold_in(k, count))(keys)
    return jax.vmap(lambda k, row: jax.random.categorical(k, row / temperature))(
        step_keys, masked).astype(jnp.int32)


def _action_chunk(ids: jax.Array, modality: int) -> dict[str, jax.Array]:
    """Model fields [B, 1] of one action token per row, built on device."""
    b = ids.shape[0]
    return {"tokens": ids[:, None].astype(jnp.int32),
            "modality": jnp.full((b, 1), modality, jnp.int8),
            "is_action": jnp.ones((b, 1), jnp.bool_),
            "local_pos": jnp.zeros((b, 1), jnp.int32),
            "patches": jnp.zeros((b, 1, *seqlib.FIELDS["patches"][0]), jnp.uint8),
            "patch_pos": jnp.zeros((b, 1, 4), jnp.float32)}


class Compiled(NamedTuple):
    """Jitted decoding steps of one model config; each donates (updates in place) the cache.

    params: as given to `Gato(config)` or, fastest, `decoding_params(config, params)`.
    extend(params, chunk, cache) -> (last logits [B, V], cache)
    extend_sample(params, chunk, cache, keys, count, temperature, *, lo, hi, mode)
        -> (ids [B], cache): append a chunk, then choose the next token in [lo, hi) (one call)
    action_sample(..., *, lo, hi, mode, modality): the same for a chunk of action ids [B]
    return_sample(params, chunk, cache, keys, step, kappa, inverse_temperature, *, samples)
        -> (return bins [B], cache): append a chunk, then draw the next token's return bin
        (`gato.eval.returns.sample_expert_returns`)
    """

    extend: Callable
    extend_sample: Callable
    action_sample: Callable
    return_sample: Callable


@functools.lru_cache(maxsize=16)
def compiled_decoder(config: Any) -> Compiled:
    """The jitted steps for Gato(config), cached per config so that agents and evaluations of one
    model share compilations."""
    model = Gato(config)
    vocab = config.vocab_size

    def last_logits(params, chunk, cache, lo, hi):
        return model.apply({"params": decoding_params(config, params)}, chunk, cache, lo, hi,
                           method=Gato.decode_last)

    def extend(params, chunk, cache):
        return last_logits(params, chunk, cache, 0, vocab)

    def extend_sample(params, chunk, cache, keys, count, temperature, *, lo, hi, mode):
        logits, cache = last_logits(params, chunk, cache, lo, hi)
        return sample_in_range(logits, keys, count, temperature, lo, vocab, mode), cache

    def action_sample(params, ids, cache, keys, count, temperature, *, lo, hi, mode, modality):
        return extend_sample(params, _action_chunk(ids, modality), cache, keys, count,
                             temperature, lo=lo, hi=hi, mode=mode)

    def return_sample(params, chunk, cache, keys, step, kappa, inverse_temperature, *,
                      samples):
        lo, hi = returns_lib.token_range()
        logits, cache = last_logits(params, chunk, cache, lo, hi)
        step_keys = jax.vmap(lambda k: jax.random.fold_in(k, step))(keys)
        return sample_expert_returns(step_keys, logits, kappa, samples,
                                     inverse_temperature), cache

    static = ("lo", "hi", "mode")
    return Compiled(
        jax.jit(extend, donate_argnums=2),
        jax.jit(extend_sample, static_argnames=static, donate_argnums=2),
        jax.jit(action_sample, static_argnames=(*static, "modality"), donate_argnums=2),
        jax.jit(return_sample, static_argnames="samples", donate_argnums=2))


def _concat_time(chunks: Sequence[TokenSequence]) -> TokenSequence:
    return {k: np.concatenate([c[k] for c in chunks], axis=1) for k in seqlib.FIELDS}


class ModelAgent:
    """Gato checkpoint as an agent: KV-cached, constrained autoregressive action decoding.

    Sampling randomness is per row: key(seed of the row's episode) folded with the token count, so
    an episode's actions do not depend on which other episodes share its batch. decoding: one of
    `gato.eval.decoding.DECODING_MODES`; "mean" applies to continuous actions, discrete ones are
    sampled. returns: how return tokens are filled (module docstring); `spec` must carry the
    task's return tokens (`gato.envs.returns.task_spec`) exactly when the model has them.
    """

    def __init__(self, model: Gato, params: Any, spec: TimestepSpec, *, temperature: float = 1.0,
                 decoding: str = "sample", cache_len: int | None = None,
                 returns: ReturnConditioning | None = None):
        check_mode(decoding)
        self.returns = returns or ReturnConditioning()
        _check_returns(model.config.return_tokens, spec, self.returns)
        self.model, self.spec = model, spec
        self.params = decoding_params(model.config, params)  # re-laid out once (a copy)
        if decoding == "mean" and spec.action_kind == "discrete":
            decoding = "sample"
        self.temperature, self.decoding = float(temperature), decoding
        self.cache_len = int(cache_len or model.config.max_len)
        self.lo, self.hi = action_token_range(spec)
        if self.hi > model.config.vocab_size:
            raise ValueError(f"action ids [{self.lo}, {self.hi}) exceed the model's vocab_size "
                             f"{model.config.vocab_size}")
        self.action_modality = (Modality.DISCRETE if spec.action_kind == "discrete"
                                else Modality.CONTINUOUS)
        self._compiled = compiled_decoder(model.config)
        self._cache = self._pending = self._keys = None
        self._frames: dict[int, dict[str, list[np.ndarray]]] = {}
        self._count = self._steps = 0
        self._return_to_go: np.ndarray | None = None  # float64 [B] (fixed return targets)
        self._prompt_logits: np.ndarray | None = None  # [B, V] after the prompt
        self.last_ids: np.ndarray | None = None  # int32 [B, action_size] of the latest act
        self.last_return_ids: np.ndarray | None = None  # int32 [B] return tokens of it

    def _feed(self, chunk: TokenSequence) -> None:
        """Appends `chunk` ([B, T] fields) to the cache; keeps the last position's logits."""
        model_chunk = {k: jnp.asarray(chunk[k]) for k in MODEL_FIELDS}
        logits, self._cache = self._compiled.extend(self.params, model_chunk, self._cache)
        self._prompt_logits = logits

    def reset(self, batch_size: int, prompt: TokenSequence | None, *,
              envs: Sequence[dm_env.Environment | None] = (), seeds: Sequence[int] = ()
              ) -> None:
        seeds = list(seeds) or list(range(batch_size))
        if len(seeds) != batch_size:
            raise ValueError(f"got {len(seeds)} seeds for a batch of {batch_size}")
        self._keys = jnp.stack([jax.random.PRNGKey(s) for s in seeds])
        # own buffers: the cache is donated to each extend call (updated in place)
        self._cache = jax.tree.map(jnp.copy,
                                   init_cache(self.model.config, batch_size, self.cache_len))
        self._pending, self._count, self._steps, self._prompt_logits = None, 0, 0, None
        self._frames = {}  # row -> {image key: its last spec.frame_stack frames}
        self._return_keys = jax.vmap(lambda k: jax.random.fold_in(k, RETURN_STREAM))(self._keys)
        if self.returns.initial is not None:
            self._return_to_go = np.full(batch_size, self.returns.initial, np.float64)
        has_prompt = prompt is not None and prompt["tokens"].shape[1] > 0
        if (self.spec.returns is not None and self.returns.target.samples_returns and
                self.spec.returns.placement == "before_observation" and not has_prompt):
            raise ValueError("return tokens before the observation are drawn from the previous "
                             "token: the first one needs a prompt (or a fixed return target)")
        if has_prompt:
            if prompt["tokens"].shape[0] != batch_size:
                raise ValueError(f"prompt has {prompt['tokens'].shape[0]} rows, batch has "
                                 f"{batch_size}")
            for start in range(0, prompt["tokens"].shape[1], self.cache_len):
                self._feed({k: v[:, start:start + self.cache_len] for k, v in prompt.items()})

    def _observation_chunk(self, timesteps, active: np.ndarray) -> TokenSequence:
        """The timestep's tokens before its first action for every row ([B, n], with the pending
        action token of the previous timestep first): observation and separator, and the return
        token where the spec has one (drawn here in the sampling modes). Inactive rows copy an
        active row (their outputs are ignored)."""
        first = int(np.flatnonzero(active)[0])
        observed = {i: self._observation(i, timesteps[i]) for i in np.flatnonzero(active)}
        rows = [tokenize_observation(self.spec, observed[i if active[i] else first])
                for i in range(len(active))]
        lengths = {seqlib.length(r) for r in rows}
        if len(lengths) != 1:
            raise ValueError(f"observations of one task gave different token counts {lengths}")
        obs = {k: np.stack([r[k] for r in rows]) for k in seqlib.FIELDS}
        sep = _single(np.full(len(rows), SEPARATOR_ID), Modality.SEPARATOR, is_action=False)
        pending = [self._pending] if self._pending is not None else []
        if self.spec.returns is None:
            return _concat_time([*pending, obs, sep])
        if self.spec.returns.placement == "before_observation":
            before, after = pending, [obs, sep]
        else:
            before, after = [*pending, obs], [sep]
        if self.returns.target.samples_returns:
            ids = self._draw_returns(before)
            before = []
        else:
            self._subtract_rewards(timesteps, active)
            ids = returns_lib.tokenize(self._return_to_go, self.spec.returns)
        self.last_return_ids = np.asarray(ids, np.int32)
        ret = _single(self.last_return_ids, Modality.RETURN, is_action=False, loss=True)
        return _concat_time([*before, ret, *after])

    def _observation(self, row: int, timestep: dm_env.TimeStep) -> dict[str, Any]:
        """The row's observation as the tokenizer takes it: with `spec.frame_stack` > 1 each
        image key is stacked with the frames this episode showed before it, as training's
        windows were (`gato.tokenizers.image.stack_frames`); the row's history restarts at
        the episode's first timestep."""
        observation = flatten(timestep.observation)
        stack = self.spec.frame_stack
        if stack == 1:
            return observation
        if timestep.first() or row not in self._frames:
            self._frames[row] = {}
        history = self._frames[row]
        for key, kind in self.spec.observation.items():
            if kind == "image":
                frames = [*history.get(key, []), np.asarray(observation[key])][-stack:]
                history[key] = frames
                observation[key] = stack_frames(np.stack(frames), stack, len(frames) - 1,
                                                key=key, motion=self.spec.frame_motion)[0]
        return observation

    def _subtract_rewards(self, timesteps, active: np.ndarray) -> None:
        """R <- R - r for every active row whose timestep reports a reward (not the first)."""
        for i in np.flatnonzero(active):
            step = timesteps[i]
            if step is not None and not step.first() and step.reward is not None:
                self._return_to_go[i] -= float(np.sum(step.reward))

    def _draw_returns(self, before: list[TokenSequence]) -> np.ndarray:
        """Feeds `before` ([B, n] chunks; may be empty right after a prompt) and draws each
        row's return token from the return bins (`ReturnConditioning.draws`): ids [B]."""
        options = self.returns.draws
        step = np.int32(self._steps)
        if before:
            chunk = _concat_time(before)
            bins, self._cache = self._compiled.return_sample(
                self.params, {k: chunk[k] for k in MODEL_FIELDS}, self._cache,
                self._return_keys, step, np.float32(options.kappa),
                np.float32(options.inverse_temperature), samples=int(options.samples))
        else:  # the prompt's last token predicts the first return token
            lo, hi = returns_lib.token_range()
            keys = jax.vmap(lambda k: jax.random.fold_in(k, step))(self._return_keys)
            bins = sample_expert_returns(keys, self._prompt_logits[:, lo:hi], options.kappa,
                                         int(options.samples), options.inverse_temperature)
        return returns_lib.token_range()[0] + np.asarray(jax.device_get(bins), np.int32)

    def act(self, timesteps: Sequence[dm_env.TimeStep | None], active: np.ndarray) -> list[Any]:
        """Decodes one action per row (None for inactive rows); see the module docstring."""
        if self._cache is None:
            raise RuntimeError("ModelAgent.act called before reset")
        if not np.any(active):
            return [None] * len(active)
        chunk = self._observation_chunk(timesteps, np.asarray(active))
        args = dict(lo=self.lo, hi=self.hi, mode=self.decoding)
        # numpy arguments: jit transfers them itself, faster than a jnp.asarray each
        temperature = np.float32(self.temperature)
        ids = []
        for j in range(self.spec.action_size):
            count = np.int32(self._count + j)
            if j == 0:
                token, self._cache = self._compiled.extend_sample(
                    self.params, {k: chunk[k] for k in MODEL_FIELDS}, self._cache,
                    self._keys, count, temperature, **args)
            else:
                token, self._cache = self._compiled.action_sample(
                    self.params, ids[-1], self._cache, self._keys, count, temperature,
                    modality=int(self.action_modality), **args)
            ids.append(token)
        self._count += self.spec.action_size
        self._steps += 1
        ids = np.stack(jax.device_get(ids), axis=1)  # [B, action_size]; one host transfer
        self._pending = _single(ids[:, -1], self.action_modality, is_action=True)
        self.last_ids = ids
        return [detokenize_action(self.spec, row) if a else None
                for row, a in zip(ids, active, strict=True)]


def _check_returns(return_tokens: bool, spec: TimestepSpec, returns: ReturnConditioning) -> None:
    """Raises ValueError when the model, the spec's return tokens and the target disagree."""
    if not return_tokens and returns.target.mode != "none":
        raise ValueError(f"return target {returns.target} for a model trained without return "
                         "tokens (ModelConfig.return_tokens=False); use --return-target none")
    if return_tokens and spec.returns is None:
        raise ValueError("the model has return tokens: give the agent the task's spec with its "
                         "return tokens (gato.envs.returns.task_spec)")
    if spec.returns is not None and not return_tokens:
        raise ValueError("the spec has return tokens, but the model has none")
