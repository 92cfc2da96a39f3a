"""Atari only: can the pipeline learn from pixels given compute? A learning curve per game.

The main job gives Atari 0.5 of 4.75 of its mixture, ~6-7k frames per game in a run, and its
clone stays at the expert's action frequencies (docs/EXPERIMENTS.md). This trains the same model
on the four games alone and records, as training goes, each game's held-out action error (the
last 3 of 20 generated episodes per game are held out: data.split trains on the first 17) and
rollout scores under the main job's protocol:
    gato main --config atari --workdir runs/atari
    gato curve runs/atari/train          # the learning curve: table and figure
Variants (comma separated): steps=N, episodes=N (generated per game), channels=N (the patch
encoder's width, ModelConfig.patch_channels; 0: the pixels' own), frames=N (data.frame_stack:
each frame shown with its N - 1 predecessors in the patch channels; 1: Gato's single frame),
motion (with frames=2: the frame and its change, data.frame_motion), noise=P (the recording
expert's executed actions replaced by random ones with probability P, its own stored: DART,
generate.action_noise), noise_games=G1+G2 (that noise only in these games, the others
recorded clean: generate.task_overrides), games=G1+G2 (train and evaluate on these games only,
e.g. one game given the whole budget), quick (a smoke run).
"""

import ml_collections

from gato.config import default_config, parse_variant
from gato.config.presets import ATARI_TASKS, heldout_curve, suite_eval
from gato.errors import ConfigError

HELD_OUT = 3  # last episodes of each game kept out of training
# key -> type
VARIANTS = {"steps": int, "episodes": int, "channels": int, "frames": int, "motion": bool,
            "noise": float, "noise_games": str, "games": str, "quick": bool}


def _games(variant: dict) -> tuple[list[str], list[str], float]:
    """(games, games recorded with noise, P(random action)) of the variant; ConfigError if
    inconsistent."""
    games = [g for g in str(variant.get("games", "")).split("+") if g] or list(ATARI_TASKS)
    noise = float(variant.get("noise", 0.0))
    noise_games = [g for g in str(variant.get("noise_games", "")).split("+") if g]
    if noise_games and not noise:
        raise ConfigError("variant noise_games needs noise=P (P > 0): the noise of those games")
    unknown = sorted(set(games + noise_games) - set(ATARI_TASKS))
    if unknown:
        raise ConfigError(f"variant games/noise_games: unknown game(s) {unknown}; "
                          f"choose from {'+'.join(ATARI_TASKS)}")
    if not set(noise_games) <= set(games):
        raise ConfigError(f"variant noise_games={'+'.join(noise_games)} names games outside "
                          f"games={'+'.join(games)}")
    return games, noise_games, noise


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    variant = parse_variant(arg, VARIANTS)
    quick = bool(variant.get("quick", False))
    games, noise_games, noise = _games(variant)
    c = default_config()

    c.generate.tasks = ",".join(games)
    c.generate.episodes = int(variant.get("episodes", 5 if quick else 20))  # HELD_OUT held out
    c.generate.max_episode_steps = 100 if quick else 1000
    c.generate.action_noise = 0.0 if noise_games else noise  # P(random action) while recording
    c.generate.task_overrides = {game: {"action_noise": noise} for game in noise_games}

    c.model.name = "tiny" if quick else "small"
    c.train.seq_len = c.model.overrides.max_len = 128 if quick else 256
    # the main job's model, with the patch encoder's width and stem, and attention in one block
    kept = {k: v for k, v in c.model.overrides.items() if k not in ("attention_blocks", "remat")}
    c.model.overrides = {**kept, "patch_channels": int(variant.get("channels", 0)),
                         "patch_stem": 4}

    c.data.suites = ""
    c.data.tasks = ",".join(games)
    c.data.mixture = {"atari": 1.0}
    # no demonstration prompts: the question is whether the clone reads the frames, and a
    # prompt would take a quarter of each window's frames
    c.data.prompt_fraction = 0.0
    c.data.frame_stack = int(variant.get("frames", 1))
    c.data.frame_motion = bool(variant.get("motion", False))

    c.optimizer.learning_rate = 1e-3  # as experiments/gato_cpu.py
    c.optimizer.warmup_steps = 10 if quick else 50

    c.train.total_steps = int(variant.get("steps", 20 if quick else 1500))
    c.train.log_every = 5 if quick else 25
    c.train.checkpoint_every = 10 if quick else 250

    # the main job's protocol (references measured at 1000-step episodes); no prompt, as above
    suite_eval(c, ",".join(games), protocol="cap1000", episodes=2 if quick else 10,
               batch_size=2 if quick else 10, max_steps=50 if quick else 0)
    # the learning curve: held-out action error often (cheap, the same windows every time),
    # rollouts less often (5 episodes per game: ~3 min on a 2-core machine)
    heldout_curve(c, held_out=HELD_OUT, every=10 if quick else 250, windows=16 if quick else 64,
                  rollout_every=20 if quick else 500, rollout_episodes=2 if quick else 5)
    return c
