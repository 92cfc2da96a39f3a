"""The one default config: every section and key, with its default, what it accepts and why.

    config = default_config()      # an ml_collections.ConfigDict of every section below
    RULES["train.total_steps"]     # the Rule a value must satisfy (gato.train.validate)

An experiment file (experiments/NAME.py) starts from `default_config()` and states only its
differences; a key these tables do not have is refused where it enters (`gato.config.load`).
Open fields (`open=True`) are mappings whose keys are the experiment's own (suite weights,
per-task overrides, evaluator entries); their values are checked by the code that reads them.
Defaults are the CPU main job's where a section had none before (train, model, mesh,
checkpoint, generate), and the paper's for the optimizer (Reed et al. 2022, section 4.1).
Choices that live in registries (data sources, protocols, decoding modes, model sizes) are
checked by `gato.train.validate` and `gato.eval.config.validate`, not here.
"""

import copy
import dataclasses
from collections.abc import Iterator, Mapping
from typing import Any

import ml_collections

from gato.config.rules import (
    COUNT,
    FRACTION,
    KEYS,
    MAPPING,
    NAME,
    OPTIONAL_TEXT,
    PAIRS,
    POSITIVE,
    WEIGHTS,
    Rule,
    choice,
    integer,
    names_among,
    number,
    numbers_list,
    of_type,
    optional,
)


@dataclasses.dataclass(frozen=True)
class Field:
    """One config key: its default, the rule its values follow, and a one-line why."""

    default: Any
    rule: Rule
    doc: str
    open: bool = False  # a mapping whose keys are free (names -> values)


def F(default: Any, doc: str, rule: Rule | None = None) -> Field:  # noqa: N802 -- a table row
    return Field(default, rule or of_type(default), doc)


def OPEN(default: Mapping, doc: str, rule: Rule = MAPPING) -> Field:  # noqa: N802
    return Field(dict(default), rule, doc, open=True)


ON_BAD = choice("skip", "fail")
ACTION_SOFTMAX = ("vocab", "range")
OBSERVATION_KINDS = ("continuous", "discrete")
CPU_MODEL_OVERRIDES = {
    # ALiBi recency bias, sinusoidal continuous bins and masked action inputs make behaviour
    # cloning learn in few steps on a CPU; 4 attention query blocks and remat of all but the
    # matmuls are the same math with less memory traffic (docs/EXPERIMENTS.md)
    "dropout_rate": 0.0, "max_len": 256, "position_bias": "alibi",
    "continuous_embedding_init": "sinusoidal", "action_inputs": "masked",
    "attention_blocks": 4, "remat": "dots_saveable"}

SCHEMA: dict[str, dict[str, Any]] = {
    "model": {
        "name": F("small", "gato.model size name: tiny, small, 79m, 364m, 1.18b", NAME),
        "overrides": OPEN(CPU_MODEL_OVERRIDES, "ModelConfig fields over the size's; max_len = "
                          "train.seq_len evaluates as trained"),
    },
    "data": {
        "source": F("mixture", "a registered data source (gato.data.pipeline.sources)", NAME),
        "data_dir": F(None, "TFDS data_dir of the RLDS datasets (None: TFDS default; the "
                      "workflows set WORKDIR/data)", OPTIONAL_TEXT),
        "split": F("train", "TFDS split read, or a slice in episodes ('train[:-3]')", NAME),
        "suites": F("control,atari,text", "comma-separated suites whose tasks are trained on"),
        "tasks": F("", "comma-separated extra task names or named task sets"),
        "mixture": OPEN({"control": 1.0, "atari": 1.0, "text": 1.0},
                        "suite -> weight; a suite's weight is shared by its tasks", WEIGHTS),
        "task_weights": OPEN({}, "task -> weight inside its suite (default 1.0)", WEIGHTS),
        "prompt_fraction": F(0.25, "fraction of episode windows that get a prompt", FRACTION),
        "prompt_end_fraction": F(0.5, "fraction of prompts from an episode's end (goal)",
                                 FRACTION),
        "episode_start_fraction": F(0.0, "fraction of windows that begin at an episode's first "
                                    "step (starts are where clones fail first)", FRACTION),
        "prompt_tokens": F(None, "prompt token budget (None: seq_len // 4)", optional(COUNT)),
        "max_episodes": F(None, "at most this many episodes per task (None: all)",
                          optional(POSITIVE)),
        "on_bad_episode": F("skip", "corrupt or mismatched episode: 'skip' (counted) or 'fail'",
                            ON_BAD),
        "returns": {
            "enabled": F(False, "a return-to-go token per timestep (needs model return_tokens)"),
            "placement": F("after_observation", "or before_observation (gato.tokenizers."
                           "returns)", choice("after_observation", "before_observation")),
            "range": F("reference", "where each task's return range comes from",
                       choice("reference")),
            "headroom": F(1.25, "the expert's return sits at 1 / headroom of the range",
                          number(1.0)),
            "ranges": OPEN({}, "task -> [low, high], over the range source"),
        },
        "frame_stack": F(1, "grayscale frames shown with their predecessors: 1 (Gato), 2, 3",
                         integer(1, 3)),
        "frame_motion": F(False, "with frame_stack 2: the frame twice and its change"),
        "grid_cells": F(False, "grid views (BabyAI's 7 x 7 x 3) as one token per cell (object, "
                        "colour, state combined: 49 tokens) instead of one per component (147)"),
        "filter": {
            "top_fraction": F(1.0, "%BC: each task's top fraction of episodes by return",
                              number(0.0, 1.0, open_low=True)),
        },
        "text": F("pydocs", "text corpus: 'pydocs' or a TFDS dataset name", NAME),
        "vision_language": F("minigrid-scenes", "image-text dataset of the vision_language "
                             "suite: 'minigrid-scenes' (made here) or a prepared TFDS "
                             "coco_captions-layout name, e.g. 'coco_captions/2014'", NAME),
        "vision_language_image_size": F(64, "image side in pixels (a multiple of 16)",
                                        POSITIVE),
        "text_max_documents": F(None, "at most this many documents (None: all)",
                                optional(POSITIVE)),
        "worker_count": F(1, "grain worker processes (0: batches made in this process)", COUNT),
        "read_threads": F(1, "threads per process producing examples", POSITIVE),
        "prefetch_batches": F(4, "batches buffered per worker", POSITIVE),
        # the synthetic source's shape (gato.data.pipeline.synthetic)
        "image_patches": F(4, "synthetic: patches per observation image (a square)", POSITIVE),
        "num_continuous": F(3, "synthetic: continuous observation values per step", COUNT),
        "num_discrete": F(2, "synthetic: discrete observation and action values", COUNT),
        "discrete_range": F(16, "synthetic: discrete values lie in [0, range)", POSITIVE),
        "num_tasks": F(3, "synthetic: control tasks 1..N (task 0 is text)", POSITIVE),
        "text_fraction": F(0.25, "synthetic: fraction of text rows", FRACTION),
        "text_vocab": F(256, "synthetic: text ids in [0, text_vocab)", POSITIVE),
    },
    "optimizer": {
        "learning_rate": F(1e-4, "peak learning rate after warm-up (paper, batch 512)",
                           number(0.0, open_low=True)),
        "warmup_steps": F(15_000, "linear warm-up from 0 (paper)", COUNT),
        "final_lr_fraction": F(0.1, "cosine decay ends at this fraction of the peak", FRACTION),
        "b1": F(0.9, "Adam beta1", number(0.0, 1.0, open_high=True)),
        "b2": F(0.95, "Adam beta2", number(0.0, 1.0, open_high=True)),
        "eps": F(1e-8, "Adam epsilon", number(0.0, open_low=True)),
        "weight_decay": F(0.1, "AdamW decoupled decay, on ndim >= 2 params", number(0.0)),
        "clip_norm": F(1.0, "global-norm gradient clipping (<= 0: off)", number()),
    },
    "train": {
        "total_steps": F(4000, "optimizer updates", POSITIVE),
        "batch_size": F(8, "global batch, sequences", POSITIVE),
        "seq_len": F(256, "tokens per training window", POSITIVE),
        "seed": F(0, "params init, dropout and data order", integer()),
        "log_every": F(10, "steps between metric writes", POSITIVE),
        "checkpoint_every": F(100, "steps between checkpoints", POSITIVE),
        "keep_checkpoints": F(2, "checkpoints kept on disk (None: all)", optional(POSITIVE)),
        "profile_start": F(0, "first step of a jax.profiler trace (0: none)", COUNT),
        "profile_steps": F(5, "steps traced from profile_start", POSITIVE),
        "peak_flops_per_device": F(0.0, "MFU denominator (0: measure a matmul at start-up)",
                                   number(0.0)),
        "num_task_ids": F(0, "per-task losses for task ids [0, N) (0: off)", COUNT),
        "nan_check_keys": F(("train/loss", "train/grad_norm", "train/param_norm"),
                            "metrics that must stay finite (the run stops otherwise)", KEYS),
        "loss_on_targets_only": F(True, "logits only at loss targets (same loss, faster)"),
        "target_buckets": F(16, "distinct target-count sizes compiled at most", POSITIVE),
        "image_buckets": F(4, "image-position counts compiled at most (0: encoder everywhere)",
                           COUNT),
        "label_sigma": F(0.0, "Gaussian labels over continuous bins, std in bins (0: one-hot)",
                         number(0.0)),
        "action_softmax": F("range", "'vocab' (paper: over all ids) or 'range' (over the "
                            "action's own 1024 ids, as the agent samples)",
                            choice(*ACTION_SOFTMAX)),
        "action_buckets": F(4, "with 'range': action-target counts compiled at most", POSITIVE),
        "observation_weight": F(0.0, "weight of observation-token prediction (0: Gato's)",
                                number(0.0)),
        "observation_kinds": F("continuous,discrete", "observation kinds that count",
                               names_among(*OBSERVATION_KINDS)),
    },
    "eval": {
        "suites": F("control", "comma-separated suites to evaluate ('' for none)"),
        "tasks": F("", "comma-separated extra task names or named task sets"),
        "protocol": F("full", "gato.envs.protocol name: episode cap, Atari settings, seeds",
                      NAME),
        "episodes": F(0, "episodes per task (0: the protocol's)", COUNT),
        "batch_size": F(5, "environments of one task stepped together", POSITIVE),
        "seed": F(-1, "episode i uses seed + i (-1: the protocol's)", integer(-1)),
        "temperature": F(1.0, "softmax temperature of action tokens", number(0.0)),
        "decoding": F("sample", "'sample' (paper), 'greedy' or 'mean' (gato.eval.decoding)",
                      NAME),
        "prompt": F("end", "demonstration prompt: 'none', 'start' or 'end' of an episode",
                    choice("none", "start", "end")),
        "prompt_tokens": F(256, "prompt length in tokens", COUNT),
        "prompt_split": F("train", "dataset split the demonstrations come from", NAME),
        "data_dir": F("", "TFDS data_dir of the demonstrations ('': the run's)"),
        "on_bad_episode": F("skip", "corrupt demonstration: 'skip' or 'fail'", ON_BAD),
        "max_steps": F(0, "episode-length cap (0: the protocol's)", COUNT),
        "normalize": F(True, "expert-normalize scores (False: returns only, e.g. short caps)"),
        "bootstrap_reps": F(5000, "stratified-bootstrap replications (rliable)", POSITIVE),
        "return_target": F("none", "return-token target (gato.eval.returns forms)"),
        "return_kappa": F(0.0, "expert inference: P(R) re-weighting (MGDT code: 0)",
                          number(0.0)),
        "return_samples": F(128, "expert inference: returns drawn per step", POSITIVE),
        "return_inverse_temperature": F(0.75, "expert inference: return logit scale",
                                        number(0.0, open_low=True)),
        "instruction": F("own", "text observations (BabyAI missions): the episode's own, or "
                         "'other': another episode's (how much the agent reads its "
                         "instruction)", choice("own", "other")),
        "gif": F(True, "save one rollout GIF per task"),
        "gif_max_frames": F(200, "frames kept in each GIF", POSITIVE),
        "gif_size": F(128, "rendered frame height and width, pixels", POSITIVE),
    },
    "evaluators": OPEN({}, "in-training evaluators: name -> {type, every, options} "
                       "(gato.train.evaluators)"),
    "mesh": {
        "axes": F([("data", -1), ("fsdp", 1)], "mesh axes and sizes (-1: the remaining "
                  "devices)", PAIRS),
        "num_devices": F(0, "use the first N devices (0: all)", COUNT),
        "logical_axis_rules": F((), "empty: the model's DEFAULT_LOGICAL_AXIS_RULES", PAIRS),
    },
    "checkpoint": {
        "resume": F(True, "resume from WORKDIR/checkpoints when it holds one"),
        "resume_from": F("", "explicit checkpoint when WORKDIR has none", OPTIONAL_TEXT),
        "init_from": F("", "params-only initialization from this checkpoint", OPTIONAL_TEXT),
        "init_opt_state": F(False, "with init_from: its optimizer state too (moments kept, "
                            "step counters reset: the run's own schedule)"),
        "on_damaged": F("fallback", "newest checkpoint damaged: 'fallback' to an intact one "
                        "(damaged ones moved aside) or 'fail'", choice("fallback", "fail")),
    },
    "generate": {
        "tasks": F("", "comma-separated tasks (or named sets) to record with their experts"),
        "episodes": F(20, "episodes per task", POSITIVE),
        "max_episode_steps": F(0, "per episode (0: the task's cap)", COUNT),
        "action_noise": F(0.0, "DART execution noise: continuous std / half range, discrete "
                          "P(random action)", number(0.0)),
        "noise_correlation": F(0.0, "AR(1) coefficient per step of continuous noise (0: iid)",
                               number(0.0, 1.0, open_high=True)),
        "suite_overrides": OPEN({}, "suite -> {episodes, max_episode_steps, action_noise, "
                                "noise_correlation} over the settings above"),
        "task_overrides": OPEN({}, "task -> the same keys, over its suite's"),
        "behaviours": OPEN({}, "task -> behaviour mix 'expert:N,noisyS:N,random:N' (recorded "
                           "instead of the expert; gato.data.recording.behaviours)"),
        "workers": F(2, "worker processes", POSITIVE),
        "seed": F(0, "base seed of the recorded episodes", integer()),
    },
    "finetune": {
        "checkpoint": F("", "the pretrained checkpoint (a run dir, its checkpoints dir or a "
                        "step dir; '': from scratch)"),
        "episodes": F(10, "fine-tune on the first N episodes of each task", POSITIVE),
        "heldout_episodes": F(3, "the next episodes: held-out action nll picks the best "
                              "checkpoint (never the rollout score)", POSITIVE),
        "optimizer_state": F(False, "load the checkpoint's optimizer state too (counters "
                             "reset)"),
        "every": F(50, "steps between held-out scoring and kept checkpoints", POSITIVE),
        "windows": F(32, "held-out windows per task", POSITIVE),
    },
    "transfer": {
        "heldout": F("cartpole-swingup", "held-out task(s), comma-separated: in no pretraining "
                     "mixture, fine-tuned on", NAME),
        "variants": F("all,same_domain,non_control,scratch", "pretraining variants (Fig. 9): "
                      "all data but the held-out task, its suite only, text and "
                      "vision-language only, none",
                      names_among("all", "same_domain", "non_control", "scratch")),
        "sizes": F("tiny,small", "model sizes (gato.model), each pretrained per variant", NAME),
        "pretrain_steps": F(1500, "pretraining steps per variant and size (train.* otherwise)",
                            POSITIVE),
        "episodes": F("1,5,10,20", "N: demonstrations of the held-out task fine-tuned on",
                      numbers_list(1, integers=True)),
        "seeds": F("0,1,2", "fine-tuning seeds (data order; init for scratch)",
                   numbers_list(0, integers=True)),
        "learning_rates": F("1e-4,3e-4,1e-3", "each variant's own sweep, chosen by held-out "
                            "nll at sweep_episodes and the first seed", numbers_list(0.0)),
        "shared_learning_rate": F(3e-4, "the one schedule every variant also runs (as Fig. 9)",
                                  number(0.0, open_low=True)),
        "sweep_episodes": F(5, "N at which the learning rates are swept", POSITIVE),
        "finetune_steps": F(200, "fine-tuning steps (warm-up: finetune_warmup, then cosine)",
                            POSITIVE),
        "finetune_warmup": F(20, "fine-tuning warm-up steps", COUNT),
    },
    "scaling": {
        "sizes": OPEN({}, "label -> ModelConfig fields over model.name ('name': another "
                      "base size), e.g. {'xs': {'name': 'tiny'}, 'm': {'embed_dim': 192}}"),
        "heldout_episodes": F(3, "each task's last episodes: held-out action nll, never trained "
                              "on", POSITIVE),
        "windows": F(32, "held-out windows per task", POSITIVE),
        "seeds": F("0", "training seeds per size", numbers_list(0, integers=True)),
    },
    "study": {
        "arms": F("bc,filtered,returns", "return study arms: BC on all, %BC, "
                  "return-conditioned", names_among("bc", "filtered", "returns")),
        "top_fraction": F(0.2, "%BC arm: each task's best fraction of episodes",
                          number(0.0, 1.0, open_low=True)),
        "target": F("q1", "the returns arm's request (gato.eval.returns forms)"),
        "sweep": F("", "requested returns evaluated on the returns arm, comma-separated"),
        "sweep_episodes": F(10, "episodes per task and requested return", POSITIVE),
    },
}


def fields(schema: Mapping[str, Any] = SCHEMA, prefix: str = "") -> Iterator[tuple[str, Field]]:
    """(dotted key, Field) of every field, sections flattened."""
    for name, entry in schema.items():
        if isinstance(entry, Field):
            yield prefix + name, entry
        else:
            yield from fields(entry, f"{prefix}{name}.")


RULES: dict[str, Rule] = {key: f.rule for key, f in fields()}
OPEN_KEYS: frozenset[str] = frozenset(key for key, f in fields() if f.open)


def _build(schema: Mapping[str, Any]) -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    for name, entry in schema.items():
        if not isinstance(entry, Field):
            c[name] = _build(entry)
        elif entry.open:
            c[name] = ml_collections.ConfigDict(copy.deepcopy(entry.default))
        else:
            c[name] = copy.deepcopy(entry.default)
    return c


def default_config() -> ml_collections.ConfigDict:
    """A fresh ConfigDict of every section with its defaults."""
    return _build(SCHEMA)


def section(name: str) -> ml_collections.ConfigDict:
    """One section of the defaults ("data", "eval", "data.returns", ...)."""
    node = default_config()
    for part in name.split("."):
        node = node[part]
    return node
