"""Task lists and groups of keys that several experiments share.

    c = default_config()
    c.data.tasks = ",".join((*CONTROL_TASKS, *ATARI_TASKS, "pydocs"))   # the main job's
    heldout_curve(c, held_out=3, every=250, windows=64, rollout_every=500, rollout_episodes=5)
    suite_eval(c, "pong,breakout", protocol="cap1000", episodes=10, batch_size=10)

They write ordinary keys (nothing hidden): an experiment file stays its list of differences.
"""

import ml_collections

# the main job's tasks: six Control Suite tasks from easy to hard and four Atari games that
# span random-level to near-expert clones (docs/EXPERIMENTS.md)
CONTROL_TASKS = ("cartpole-balance", "cartpole-swingup", "pendulum-swingup", "point_mass-easy",
                 "reacher-easy", "reacher-hard")
ATARI_TASKS = ("boxing", "breakout", "freeway", "pong")


def heldout_curve(c: ml_collections.ConfigDict, *, held_out: int, every: int, windows: int,
                  rollout_every: int, rollout_episodes: int) -> None:
    """Train on all but the last `held_out` episodes of each task and record a learning curve:
    their teacher-forced action nll every `every` steps (`windows` windows per task, beside the
    state-blind bar) and rollouts every `rollout_every` (`gato curve WORKDIR` draws both)."""
    c.data.split = f"train[:-{held_out}]"
    c.evaluators = {
        "heldout": {"type": "offline", "every": every,
                    "options": {"split": f"train[-{held_out}:]", "windows": windows,
                                "prefix": "heldout"}},
        "rollout": {"type": "rollout", "every": rollout_every,
                    "options": {"episodes": rollout_episodes}},
    }


def suite_eval(c: ml_collections.ConfigDict, tasks: str, *, protocol: str, episodes: int,
               batch_size: int, max_steps: int = 0) -> None:
    """Evaluate exactly `tasks` under `protocol`, without demonstration prompts or GIFs; scores
    normalized unless `max_steps` shortens the protocol's episodes (a smoke run)."""
    c.eval.suites = ""
    c.eval.tasks = tasks
    c.eval.protocol = protocol
    c.eval.episodes = episodes
    c.eval.batch_size = batch_size
    c.eval.max_steps = max_steps
    c.eval.normalize = max_steps == 0
    c.eval.prompt = "none"
    c.eval.gif = False
