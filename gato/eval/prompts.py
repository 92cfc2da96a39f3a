"""Demonstration prompts (Gato, section 2.3): tokens of an expert episode of the same task, fed
to the agent before its own episode.

Modes: "none"; "start": the first `num_tokens` tokens of a demonstration; "end": its last
`num_tokens` tokens (goal conditioning: the demonstration's final states). Demonstrations are RLDS
episodes (`gato.data.formats.episodes.Episode`); the final RLDS step, which carries no action, is
left out. The demonstration for an evaluation episode is chosen by that episode's seed, so prompts
do not depend on how episodes are batched. Demonstrations are read under the bad-episode policy
of training (`gato.data.pipeline.bad_episodes`): a corrupt one is replaced by the next good one and
reported (`PromptSource.skipped`), or raises BadEpisodeError naming task, split, file, episode.
do not depend on how episodes are batched. With a spec that has return tokens, each timestep of
the demonstration carries its own return-to-go (as training prompts do).
"""

import logging
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from gato.data.pipeline.bad_episodes import EpisodeReader
from gato.envs.registry import Task
from gato.tokenizers import sequence as seqlib
from gato.tokenizers.returns import return_to_go
from gato.tokenizers.sequence import TokenSequence
from gato.tokenizers.spec import TimestepSpec
from gato.tokenizers.timestep import observation_steps, tokenize_timestep

log = logging.getLogger(__name__)


def _steps_with_action(episode: dict[str, Any]) -> int:
    steps = len(episode["action"])
    is_last = np.asarray(episode.get("is_last", np.zeros(steps, bool)))
    return steps - 1 if steps and bool(is_last[-1]) else steps


def demonstration_tokens(spec: TimestepSpec, episode: dict[str, Any], mode: str,
                         num_tokens: int) -> TokenSequence:
    """The first ("start") or last ("end") `num_tokens` tokens of `episode` (fewer if short).

    Only the timesteps needed are tokenized (all timesteps of a task have the same length).
    """
    if mode not in ("start", "end"):
        raise ValueError(f"prompt mode {mode!r}: expected 'start' or 'end'")
    steps = _steps_with_action(episode)
    if steps == 0:
        return seqlib.empty(0)
    obs = {k: episode["observation"][k] for k in spec.observation_keys}
    actions = episode["action"]
    rtg = None if spec.returns is None else return_to_go(episode["reward"])

    def step_tokens(t: int) -> TokenSequence:
        frame = observation_steps(spec, obs, t, t + 1)
        return tokenize_timestep(spec, {k: v[0] for k, v in frame.items()}, actions[t],
                                 None if rtg is None else rtg[t])

    per_step = seqlib.length(step_tokens(0))
    need = min(steps, math.ceil(num_tokens / per_step))
    times = range(need) if mode == "start" else range(steps - need, steps)
    seq = seqlib.concat([step_tokens(t) for t in times])
    n = seqlib.length(seq)
    keep = min(n, num_tokens)
    return seqlib.slice_(seq, 0, keep) if mode == "start" else seqlib.slice_(seq, n - keep, n)


def stack_prompts(prompts: Sequence[TokenSequence], mode: str) -> TokenSequence | None:
    """Per-row prompts -> one batched prompt [B, L, ...]; rows are cut to the shortest length
    (keeping their start or end per `mode`) because rows advance through the cache together."""
    if not prompts:
        return None
    n = min(seqlib.length(p) for p in prompts)
    if n == 0:
        return None
    cut = [seqlib.slice_(p, 0, n) if mode == "start" else
           seqlib.slice_(p, seqlib.length(p) - n, seqlib.length(p)) for p in prompts]
    return {k: np.stack([p[k] for p in cut]) for k in seqlib.FIELDS}


class PromptSource:
    """Prompts for episodes of one task from a random-access collection of demonstrations,
    tokenized with `spec` (default: the task's; give the one with return tokens, if any)."""

    def __init__(self, task: Task, episodes: Any, mode: str, num_tokens: int, *,
                 where: str = "memory", on_bad_episode: str = "skip",
                 spec: TimestepSpec | None = None):
        if len(episodes) == 0:
            raise ValueError(f"no demonstration episodes for task {task.name!r}")
        self.task, self.episodes, self.mode, self.num_tokens = task, episodes, mode, num_tokens
        self.spec = spec or task.spec
        self.reader = EpisodeReader(task.name, self.spec, episodes, where=where,
                                    policy=on_bad_episode)

    @property
    def skipped(self) -> list[str]:
        """Messages of the bad demonstrations skipped so far."""
        return self.reader.skipped

    def prompt(self, seeds: Sequence[int]) -> TokenSequence | None:
        """Batched prompt for the episodes with these seeds ([B, L, ...] fields) or None."""
        rows = []
        for seed in seeds:
            index = int(np.random.default_rng(int(seed)).integers(len(self.episodes)))
            _, episode, _ = self.reader.read(index)
            rows.append(demonstration_tokens(self.spec, episode, self.mode,
                                             self.num_tokens))
        return stack_prompts(rows, self.mode)


def load_prompt_source(task: Task, mode: str, num_tokens: int, data_dir: str | None,
                       split: str = "train", on_bad_episode: str = "skip",
                       spec: TimestepSpec | None = None) -> PromptSource | None:
    """The task's demonstrations from its RLDS dataset, or None for mode "none".

    Raises FileNotFoundError naming the task and data_dir when its dataset cannot be read.
    """
    if mode == "none":
        return None
    from gato.data import formats

    try:
        episodes = formats.load_episodes(task.name, data_dir or None, split)
    except Exception as e:
        raise FileNotFoundError(
            f"cannot read demonstrations of task {task.name!r} (data_dir={data_dir!r}, "
            f"split={split!r}) for prompt mode {mode!r}: {e}; generate them with `gato "
            f"generate` or evaluate with --prompt none") from e
    return PromptSource(task, episodes, mode, num_tokens,
                        where=f"data_dir {data_dir or 'TFDS default'}, split {split!r}",
                        on_bad_episode=on_bad_episode, spec=spec)
