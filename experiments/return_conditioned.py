"""Ask for performance: BC on all, %BC and return-conditioned, on the same mixed-quality data.

One command runs the whole study (`gato.return_study`): mixed data for 6 control tasks, three
arms trained on it with the same model and steps, each evaluated over 20 episodes per task, a
sweep of requested returns for the return-conditioned arm, then a table and a plot:
    gato return-study --config return_conditioned --workdir runs/rc
    gato return-study --config experiments/return_conditioned.py:tiny --workdir /tmp/rc  # smoke
Variants (comma separated): steps=N (per arm), episodes=N (eval), tiny (a minutes-long smoke run
of every step on two tasks: it checks the plumbing, not the question); and to scale it up on
one accelerator host, the cluster recipe's model and sharding: size=79m|364m|1.18b (bf16,
remat, as experiments/gato_cluster.py), batch=N (global), fsdp=N (parameter shards):
    gato return-study --config return_conditioned:size=79m,batch=128 --workdir runs/rc79m

The data (generate.behaviours): per task, the scripted expert acting through executed noise of
two strengths (AR(1), coefficient 0.9 per step) and a random policy, the executed actions stored
(`gato.data.recording.behaviours`). No clean expert: measured over 3-4 episodes per level
(`gato data describe`), the best level of each task averages ~55-75% of the expert's return
(cartpole-balance noise 0.7: 709 of 1000; swingup 0.7: 520 of 850; pendulum 0.5: 484 of 799;
point_mass 0.5: 518 of 842; reacher-easy 1.0: 653 of 988; reacher-hard 0.8: between 730 (0.7)
and 393 (0.85) of 978), so each task has its own levels.
"""

import ml_collections

from gato.config import default_config, parse_variant
from gato.config.presets import CONTROL_TASKS

TINY_TASKS = ("cartpole-swingup", "pendulum-swingup")
VARIANTS = {"steps": int, "episodes": int, "tiny": bool, "size": str, "batch": int,
            "fsdp": int}  # variant key -> type
# per-task behaviour mixes: two executed-noise levels of the expert, then random actions
MIXES = {
    "cartpole-balance": "noisy0.7:40,noisy1:40,random:20",
    "cartpole-swingup": "noisy0.7:40,noisy1:40,random:20",
    "pendulum-swingup": "noisy0.5:40,noisy0.85:40,random:20",
    "point_mass-easy": "noisy0.5:40,noisy0.85:40,random:20",
    "reacher-easy": "noisy1:40,noisy1.5:40,random:20",
    "reacher-hard": "noisy0.8:40,noisy1.2:40,random:20",
}



def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    variant = parse_variant(arg, VARIANTS)
    tiny = bool(variant.get("tiny", False))
    tasks = TINY_TASKS if tiny else CONTROL_TASKS
    c = default_config()

    c.generate.tasks = ",".join(tasks)
    c.generate.behaviours = {t: ("noisy0.7:3,noisy1:3,random:2" if tiny else MIXES[t])
                             for t in tasks}
    c.generate.max_episode_steps = 100 if tiny else 1000  # per episode (the eval cap too)
    c.generate.noise_correlation = 0.9  # AR(1) coefficient per step of the executed noise

    size = str(variant.get("size", "tiny" if tiny else "small"))
    c.model.name = size
    c.train.seq_len = c.model.overrides.max_len = 64 if tiny else 256
    # the main job's model without its CPU attention layout; the study sets return_tokens per arm
    kept = {k: v for k, v in c.model.overrides.items() if k not in ("attention_blocks", "remat")}
    c.model.overrides = {**kept, "return_tokens": False}
    if size not in ("tiny", "small"):  # the cluster recipe's sizes (experiments/gato_cluster.py)
        c.model.overrides.update({"dtype": "bfloat16",
                                  "remat": "dots_with_no_batch_dims_saveable"})

    c.data.suites = ""
    c.data.tasks = ",".join(tasks)
    c.data.mixture = {"control": 1.0}  # control only: the question
    # no demonstration prompts, in training or evaluation: a prompt from a random episode of the
    # mix would condition every arm on its data's quality (a confound of the comparison)
    c.data.prompt_fraction = 0.0

    c.optimizer.learning_rate = 1e-3  # as experiments/gato_cpu.py
    c.optimizer.warmup_steps = 5 if tiny else 50

    # per arm (docs/RETURNS.md: what the study costs); the same seed for every arm
    c.train.total_steps = int(variant.get("steps", 10 if tiny else 1200))
    c.train.batch_size = int(variant.get("batch", 4 if tiny else 8))
    c.train.log_every = 5 if tiny else 50
    c.train.checkpoint_every = 10 if tiny else 300
    c.train.keep_checkpoints = 1

    c.eval.suites = ""
    c.eval.tasks = ",".join(tasks)
    c.eval.episodes = int(variant.get("episodes", 2 if tiny else 20))  # per task and arm
    c.eval.batch_size = 2 if tiny else 10
    c.eval.max_steps = c.generate.max_episode_steps  # the data's episode length
    c.eval.prompt = "none"  # see data.prompt_fraction
    c.eval.gif = False
    # expert-normalized scores need the reference protocol's 1000-step episodes; the tiny
    # variant's 100-step episodes are scored by their returns only
    c.eval.normalize = not tiny

    # the returns arm asks for the best episode return in its data (DT's choice); the sweep
    # evaluates each requested return on it (fractions of the expert's need 1000-step episodes)
    c.study.sweep = ("q0,q0.25,q0.5,q0.75,q1,expert" if tiny else
                     "q0,q0.25,q0.5,q0.75,q1,1.0xexpert,1.2xexpert,expert")
    c.study.sweep_episodes = 2 if tiny else 10

    c.mesh.axes = [("data", -1), ("fsdp", int(variant.get("fsdp", 1)))]
    return c
