"""`gato offline`: teacher-forced action metrics of a checkpoint on recorded episodes.

Rollouts (`gato eval`) say whether a policy succeeds; this says where its action predictions go
wrong, without an environment. Windows of recorded episodes are fed in (whole timesteps, no
prompt) and at every action token the model's distribution over the task's action ids, the range
decoding samples from, is compared with the recorded action. Comparing the training split with
held-out episodes (the same task generated with another seed) separates under-fitting from poor
generalization; `--at-start` windows begin at an episode's first timestep, a state that uniform
training windows rarely show and where cloned policies often fail first. For a model with return
tokens, `--returns shuffled` gives every window the return-to-go tokens of another window of the
task (a seeded permutation): the rise in action nll over `recorded` is what the recorded returns
tell the model about the actions, i.e. whether its actions depend on the return it is given.

    gato offline --checkpoint runs/main/train --data-dir runs/main/data --tasks reacher-easy
    gato offline --checkpoint runs/main/train --data-dir HELD_OUT_DIR --at-start --out starts.json
    gato offline --checkpoint runs/rc/returns --data-dir runs/rc/data --returns shuffled

Metrics per task, over all action tokens of its windows:
  nll: mean negative log-likelihood (nats) of the recorded action id (uniform: log of the range
    size, 6.93 for the 1024 continuous bins);
  mse: continuous actions only, mean squared error between the distribution's expected value and
    the recorded value, both in tokenized action units ([-1, 1]);
  accuracy: fraction of action tokens whose most likely id is the recorded one.

Episodes are read under the run's bad-episode policy (`data.on_bad_episode`, or
--on-bad-episode): a corrupt or mismatched episode is skipped for the next good one and counted
(the table's `skipped` column), or stops the command with a message naming task, split, file and
episode (`gato.data.pipeline.bad_episodes`).
"""

import argparse
import json
import logging
import pathlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from gato.data.pipeline import windows
from gato.data.pipeline.bad_episodes import ON_BAD_EPISODE, EpisodeReader
from gato.envs.specs import task_spec
from gato.eval.decoding import log_probs_in_batches, range_log_probs
from gato.tokenizers import sequence as seqlib
from gato.tokenizers.continuous import bin_centers
from gato.tokenizers.spec import TimestepSpec
from gato.tokenizers.timestep import action_token_range, tokenize_episode
from gato.train import evaluators

log = logging.getLogger(__name__)

RETURN_MODES = ("recorded", "shuffled")  # --returns: the windows' own return tokens, or others'
MISSION_MODES = ("recorded", "shuffled")  # --missions: each episode's own text observations


def episode_windows(spec: TimestepSpec, episodes: Any, *, count: int, seq_len: int,
                    at_start: bool, rng: np.random.Generator,
                    reader: EpisodeReader | None = None,
                    swap_text: np.random.Generator | None = None
                    ) -> list[seqlib.TokenSequence]:
    """`count` windows of seq_len tokens (padded), spread evenly over the episodes in order
    (each episode is read once; a bad one is replaced by the next good one, or raises, as
    `reader` says: default, raise BadEpisodeError).

    Each holds the whole timesteps that fit from a start drawn as training draws it (uniform over
    the starts that fill the window) or, with at_start, from timestep 0. With `swap_text`, every
    episode's text observations (a BabyAI mission) are another episode's (`swap_missions`).
    """
    if count < 1 or len(episodes) < 1:
        raise ValueError(f"need count >= 1 and at least one episode, got {count} and "
                         f"{len(episodes)}")
    reader = reader or EpisodeReader("?", spec, episodes, where="memory", policy="fail")
    read = [reader.read(e)[1:] for e in range(min(count, len(episodes)))]
    if swap_text is not None:
        read = swap_missions(spec, read, swap_text)
    out = []
    for e, (episode, length) in enumerate(read):
        _, n_fit = windows.steps_per_budget(tokenize_episode, spec, episode, seq_len)
        for _ in range(count // len(episodes) + (e < count % len(episodes))):
            start = 0 if at_start else windows.choose_start(rng, length, n_fit)
            seq = windows.episode_window(tokenize_episode, spec, episode, start, seq_len, length)
            out.append(seqlib.pad_to(seq, seq_len))
    return out


def random_cycle(n: int, rng: np.random.Generator) -> np.ndarray:
    """A permutation [n] that is one random cycle through all n items: perm[i] != i for n >= 2
    (every window or episode gets another's return tokens or instruction)."""
    order = rng.permutation(n)
    perm = np.empty(n, np.int64)
    perm[order] = np.roll(order, -1)
    return perm


def swap_missions(spec: TimestepSpec, episodes: list[tuple[dict, int]],
                  rng: np.random.Generator) -> list[tuple[dict, int]]:
    """Copies of (episode, length) pairs whose text observations come from another episode: each
    takes the first step's text of episode perm(i) (one random cycle, so none keeps its own when
    there are two or more) at every step. Levels with one instruction are unchanged by it."""
    keys = [k for k, kind in spec.observation.items() if kind == "text"]
    if not keys:
        raise ValueError("--missions shuffled needs a task with text observations (BabyAI)")
    perm = random_cycle(len(episodes), rng)
    out = []
    for i, (episode, length) in enumerate(episodes):
        observation = dict(episode["observation"])
        for key in keys:
            donor = np.asarray(episodes[perm[i]][0]["observation"][key])[0]
            observation[key] = np.asarray([donor] * len(observation[key]), dtype=object)
        out.append((dict(episode, observation=observation), length))
    return out


def shuffle_returns(seqs: list[seqlib.TokenSequence],
                    rng: np.random.Generator) -> list[seqlib.TokenSequence]:
    """Copies of `seqs` whose return-to-go tokens come from other windows: window i takes, in
    order, the return tokens of window perm(i) (one random cycle through the windows, so none
    keeps its own when there are two or more), as many as both hold; the rest is unchanged."""
    perm = random_cycle(len(seqs), rng)
    where = [np.flatnonzero(s["modality"] == seqlib.Modality.RETURN) for s in seqs]
    out = []
    for i, seq in enumerate(seqs):
        donor = seqs[perm[i]]["tokens"][where[perm[i]]]
        k = min(len(where[i]), len(donor))
        seq = dict(seq, tokens=seq["tokens"].copy())
        seq["tokens"][where[i][:k]] = donor[:k]
        out.append(seq)
    return out


def token_metrics(log_probs: np.ndarray, tokens: np.ndarray, is_action: np.ndarray,
                  spec: TimestepSpec) -> dict[str, float]:
    """Sums over the action tokens of a batch: {"count", "nll", "correct", "squared_error"}.

    log_probs [B, L, n] over the action range [lo, lo + n); position i predicts token i + 1.
    squared_error is 0 for discrete actions.
    """
    lo, hi = action_token_range(spec)
    rows, cols = np.nonzero(is_action[:, 1:])
    cols = cols + 1  # the action token's position; its prediction sits one position earlier
    target = tokens[rows, cols].astype(np.int64) - lo
    if target.size and (target.min() < 0 or target.max() >= hi - lo):
        raise ValueError(f"action ids outside [{lo}, {hi}) in the windows")
    lp = log_probs[rows, cols - 1].astype(np.float64)  # [N, n]
    nll = -lp[np.arange(target.size), target]
    correct = lp.argmax(-1) == target
    squared = 0.0
    if spec.action_kind == "continuous":
        values = bin_centers()
        mean = np.exp(lp) @ values
        squared = float(((mean - values[target]) ** 2).sum())
    return {"count": int(target.size), "nll": float(nll.sum()), "correct": int(correct.sum()),
            "squared_error": squared}


def evaluate_task(model: Any, params: Any, spec: TimestepSpec, episodes: Any, *, count: int,
                  seq_len: int, at_start: bool = False, batch_size: int = 16,
                  seed: int = 0, reader: EpisodeReader | None = None,
                  returns: str = "recorded", missions: str = "recorded") -> dict[str, float]:
    """Teacher-forced metrics of one task: {"windows", "action_tokens", "nll", "mse",
    "accuracy", "skipped"} (mse is NaN for discrete actions; skipped: bad episodes skipped).
    returns: one of RETURN_MODES; "shuffled" swaps the return tokens between windows
    (`shuffle_returns`) and needs a spec with return tokens; missions: one of MISSION_MODES,
    "shuffled" gives each episode another's instruction (`swap_missions`)."""
    rng = np.random.default_rng(seed)
    reader = reader or EpisodeReader("?", spec, episodes, where="memory", policy="fail")
    if returns not in RETURN_MODES or missions not in MISSION_MODES:
        raise ValueError(f"returns {returns!r} / missions {missions!r} not in {RETURN_MODES}")
    if returns == "shuffled" and spec.returns is None:
        raise ValueError("--returns shuffled needs a model trained with return tokens; this "
                         "one has none")
    seqs = episode_windows(spec, episodes, count=count, seq_len=seq_len, at_start=at_start,
                           rng=rng, reader=reader,
                           swap_text=np.random.default_rng([seed, 2]) if missions == "shuffled"
                           else None)
    if returns == "shuffled":
        seqs = shuffle_returns(seqs, np.random.default_rng([seed, 1]))
    fn = range_log_probs(model, *action_token_range(spec))
    return score_windows(fn, params, spec, seqs, batch_size) | {"skipped": len(reader.skipped)}


def score_windows(fn: Any, params: Any, spec: TimestepSpec, seqs: list[seqlib.TokenSequence],
                  batch_size: int) -> dict[str, float]:
    """{"windows", "action_tokens", "nll", "mse", "accuracy"} of `seqs` under `fn` (an
    `range_log_probs` of the spec's action range), in batches of `batch_size` windows."""
    total = {"count": 0, "nll": 0.0, "correct": 0, "squared_error": 0.0}
    for log_probs, batch in log_probs_in_batches(fn, params, seqs, batch_size):
        sums = token_metrics(log_probs, batch["tokens"], batch["is_action"], spec)
        for key in total:
            total[key] += sums[key]
    n = max(total["count"], 1)
    continuous = spec.action_kind == "continuous"
    return {"windows": len(seqs), "action_tokens": total["count"], "nll": total["nll"] / n,
            "mse": total["squared_error"] / n if continuous else float("nan"),
            "accuracy": total["correct"] / n}


def format_table(results: dict[str, dict[str, float]]) -> str:
    """Fixed-width table of evaluate_task results, one row per task."""
    lines = [f"{'task':<20}{'windows':>8}{'actions':>9}{'nll':>8}{'mse':>9}{'accuracy':>10}"
             f"{'skipped':>9}"]
    for name, r in results.items():
        lines.append(f"{name:<20}{r['windows']:>8}{r['action_tokens']:>9}{r['nll']:>8.3f}"
                     f"{r['mse']:>9.4f}{r['accuracy']:>10.3f}{r.get('skipped', 0):>9}")
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", required=True,
                        help="a run WORKDIR, its checkpoints dir or a step dir")
    parser.add_argument("--step", type=int, help="this step, not the latest")
    parser.add_argument("--tasks", help="comma-separated tasks (default: the run's trained "
                                        "control and Atari tasks)")
    parser.add_argument("--data-dir", required=True, help="TFDS data_dir of the episodes")
    parser.add_argument("--split", default="train", help="dataset split (default: %(default)s)")
    parser.add_argument("--windows", type=int, default=64,
                        help="windows per task, spread evenly over the episodes (default: "
                             "%(default)s)")
    parser.add_argument("--seq-len", type=int, default=0,
                        help="tokens per window (default: the model's max_len)")
    parser.add_argument("--at-start", action="store_true",
                        help="windows begin at each episode's first timestep")
    parser.add_argument("--returns", choices=RETURN_MODES, default="recorded",
                        help="return-to-go tokens of models trained with them: each window's "
                             "own, or another window's (what the model's actions owe to the "
                             "return; default: %(default)s)")
    parser.add_argument("--missions", choices=MISSION_MODES, default="recorded",
                        help="text observations (BabyAI instructions): each episode's own, or "
                             "another episode's (how much the actions read the instruction; "
                             "default: %(default)s)")
    parser.add_argument("--batch-size", type=int, default=16, help="windows per forward pass")
    parser.add_argument("--seed", type=int, default=0, help="seed of the window starts")
    parser.add_argument("--on-bad-episode", choices=ON_BAD_EPISODE,
                        help="skip (and count) or fail on corrupt/mismatched episodes (default: "
                             "the run's data.on_bad_episode, else skip)")
    parser.add_argument("--out", help="write the results as JSON to this file")


def _tasks(names: str | None, config: dict) -> Sequence[Any]:
    from gato.envs import registry
    from gato.eval.checkpoints import trained_task_names

    if names:
        return registry.select(None, names)
    trained = trained_task_names(config)
    if not trained:
        raise ValueError("the run's config names no training tasks: pass --tasks")
    return [t for t in registry.select(None, ",".join(sorted(trained))) if t.spec is not None]


def task_readers(tasks: Sequence[Any], data_dir: str, split: str, policy: str,
                 data_config: Any) -> dict[str, EpisodeReader]:
    """{task name: EpisodeReader} of each task's episodes in data_dir/split, under the
    bad-episode `policy`, each with the task's spec as the run's data section made it (return
    tokens, stacked frames: `gato.envs.specs.task_spec`)."""
    from gato.data.formats import load_episodes

    where = f"data_dir {data_dir}, split {split!r}"
    return {t.name: EpisodeReader(t.name, task_spec(t, data_config),
                                  load_episodes(t.name, data_dir, split), where=where,
                                  policy=policy) for t in tasks}


def run(args: argparse.Namespace) -> int:
    from gato.eval import checkpoints
    from gato.model import Gato

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    loaded = checkpoints.load_checkpoint(args.checkpoint, args.step)
    tasks = _tasks(args.tasks, loaded.config)
    checkpoints.check_compatible(loaded, tasks)
    seq_len = args.seq_len or loaded.model_config.max_len
    if not 0 < seq_len <= loaded.model_config.max_len:
        raise ValueError(f"--seq-len {seq_len} not in [1, max_len "
                         f"{loaded.model_config.max_len}]")
    if args.windows < 1 or args.batch_size < 1:
        raise ValueError("--windows and --batch-size must be >= 1")
    policy = (args.on_bad_episode
              or loaded.config.data.on_bad_episode)
    readers = task_readers(tasks, args.data_dir, args.split, policy, loaded.config.data)
    model = Gato(loaded.model_config)
    results = {}
    for task in tasks:
        reader = readers[task.name]
        results[task.name] = evaluate_task(
            model, loaded.params, reader.spec, reader.source, count=args.windows,
            seq_len=seq_len, at_start=args.at_start, batch_size=args.batch_size,
            seed=args.seed, reader=reader, returns=args.returns, missions=args.missions)
        log.info("%s: %s", task.name, results[task.name])
    skipped = [m for r in readers.values() for m in r.skipped]
    print(f"step {loaded.step}, {args.data_dir} ({args.split}), "
          f"{'episode starts' if args.at_start else 'uniform starts'}, {seq_len}-token windows"
          + (f", {args.returns} return tokens" if args.returns != "recorded" else "")
          + (f", {args.missions} missions" if args.missions != "recorded" else ""))
    print(format_table(results))
    if skipped:
        print(f"skipped {len(skipped)} bad episode reads (on_bad_episode={policy!r}); first: "
              f"{skipped[0]}")
    if args.out:
        record = {"checkpoint": str(loaded.path), "step": loaded.step, "data_dir": args.data_dir,
                  "split": args.split, "at_start": args.at_start, "seq_len": seq_len,
                  "returns": args.returns, "missions": args.missions,
                  "on_bad_episode": policy, "bad_episodes": skipped, "tasks": results}
        pathlib.Path(args.out).write_text(json.dumps(record, indent=2))
        print(f"results in {args.out}")
    return 0


def marginal_entropy(seqs: list[seqlib.TokenSequence]) -> float:
    """Entropy (nats) of the recorded action ids scored in `seqs` (those `token_metrics` counts),
    i.e. the nll of the best state-blind predictor of exactly these actions: a clone whose nll is
    not below it has not learnt to read the observations. (With many distinct ids, e.g. 1024
    continuous bins over few tokens, the empirical entropy is biased low: a strict bar.)"""
    ids = np.concatenate([s["tokens"][1:][s["is_action"][1:]] for s in seqs])
    if ids.size == 0:
        return float("nan")
    _, counts = np.unique(ids, return_counts=True)
    p = counts / counts.sum()
    return float(-(p * np.log(p)).sum())


OFFLINE_OPTIONS = {"data_dir": "", "split": "train", "tasks": "", "windows": 64,
                   "batch_size": 16, "seed": 0, "at_start": False, "missions": "recorded",
                   "prefix": "offline"}


class OfflineEvaluator:
    """In-training teacher-forced action metrics on fixed windows of recorded episodes (held-out
    episodes: the clone's generalization error as training goes; the training data: its fit).

    The windows are cut once, so every evaluation scores the same tokens and the curve moves
    only with the params. Metrics: {prefix}/{suite}/{task}/{nll,accuracy[,mse]} and
    marginal_nll, the windows' `marginal_entropy` (constant: the bar nll must go below)."""

    def __init__(self, model: Any, specs: dict[str, tuple[str, TimestepSpec]],
                 windows_by_task: dict[str, list[seqlib.TokenSequence]], batch_size: int,
                 prefix: str):
        self.specs, self.windows, self.batch_size, self.prefix = (
            specs, windows_by_task, batch_size, prefix)
        self.fns = {name: range_log_probs(model, *action_token_range(spec))
                    for name, (_, spec) in specs.items()}
        self.marginal = {name: marginal_entropy(seqs) for name, seqs in windows_by_task.items()}

    def run(self, params: Any, step: int) -> dict[str, float]:
        out = {}
        for name, (suite, spec) in self.specs.items():
            r = score_windows(self.fns[name], params, spec, self.windows[name], self.batch_size)
            r["marginal_nll"] = self.marginal[name]
            log.info("step %d %s %s: nll %.3f (state-blind %.3f), accuracy %.3f", step,
                     self.prefix, name, r["nll"], r["marginal_nll"], r["accuracy"])
            for key in ("nll", "marginal_nll", "accuracy", "mse"):
                if np.isfinite(r[key]):
                    out[f"{self.prefix}/{suite}/{name}/{key}"] = float(r[key])
        return out


@evaluators.register("offline")
def offline_evaluator(config: Any, options: dict[str, Any], workdir: pathlib.Path
                      ) -> OfflineEvaluator:
    """The "offline" in-training evaluator. options (defaults in OFFLINE_OPTIONS): data_dir (of
    the episodes; "": the run's data.data_dir), split, tasks (comma-separated; "": the run's
    trained tasks with environments), windows (per task), batch_size, seed, at_start, missions
    (MISSION_MODES: "shuffled" scores the same windows, same seed, with each episode's
    instruction another's), prefix (of the metric names: two offline evaluators, e.g. train and
    held-out, need two)."""
    from gato.model.build import build_model

    del workdir  # metrics only
    o = evaluators.with_defaults("offline", options, OFFLINE_OPTIONS)
    data = config.data
    data_dir = o["data_dir"] or data.data_dir
    if not data_dir:
        raise ValueError("offline evaluator: no data_dir in its options or in data.data_dir")
    if int(o["windows"]) < 1 or int(o["batch_size"]) < 1:
        raise ValueError("offline evaluator: windows and batch_size must be >= 1")
    if o["missions"] not in MISSION_MODES:
        raise ValueError(f"offline evaluator: missions {o['missions']!r} is not one of "
                         f"{', '.join(MISSION_MODES)}")
    model, model_config = build_model(config.model)
    tasks = _tasks(o["tasks"] or None, config)
    readers = task_readers(tasks, data_dir, o["split"], data.on_bad_episode,
                           data)
    rng = np.random.default_rng(int(o["seed"]))
    swap = np.random.default_rng([int(o["seed"]), 2]) if o["missions"] == "shuffled" else None
    specs = {t.name: (t.suite, readers[t.name].spec) for t in tasks}
    windows_by_task = {t.name: episode_windows(
        readers[t.name].spec, readers[t.name].source, count=int(o["windows"]),
        seq_len=model_config.max_len, at_start=bool(o["at_start"]), rng=rng,
        reader=readers[t.name], swap_text=swap) for t in tasks}
    return OfflineEvaluator(model, specs, windows_by_task, int(o["batch_size"]), o["prefix"])
