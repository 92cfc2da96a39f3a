"""Gato's Fig. 9: fine-tuning on a held-out task after pretraining on all other data, on its
domain only, on non-control data only, or not at all; each variant at its own learning rate
(chosen on held-out nll) and at one shared one, at two model sizes.

    gato transfer --config transfer --workdir runs/transfer            # the 2-core preset
    gato transfer --config transfer:cluster --workdir $RUN --set data.data_dir=$DATA
The data and model are the main job's with its vision-language pairs as non-control data
beside text (experiments/gato_cpu.py:vl; gato_cluster.py for the cluster). cartpole-swingup
is held out while cartpole-balance is trained on, as in the paper; it is recorded with 30
episodes, enough for N up to 20 plus the held-out nll's episodes.
Variants: heldout=TASK, quick (a smoke run), cluster (the paper's 364M beside 1.18B, N up to
1000, the cluster recipe).
"""

import ml_collections

from gato.config import load_config, parse_variant

VARIANTS = {"heldout": str, "quick": bool, "cluster": bool}


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    variant = parse_variant(arg, VARIANTS)
    quick, cluster = bool(variant.get("quick", False)), bool(variant.get("cluster", False))
    heldout = str(variant.get("heldout", "cartpole-swingup"))
    c = load_config("gato_cluster" if cluster else "gato_cpu:quick,vl" if quick else
                    "gato_cpu:vl")
    if cluster:  # the cluster's data_dir is recorded by hand
        c.data.tasks += ",minigrid-scenes"
        c.data.mixture["vision_language"] = 0.25
    else:
        c.generate.task_overrides[heldout] = {"episodes": 8 if quick else 30}

    t = c.transfer
    t.heldout = heldout
    if quick:
        t.sizes, t.pretrain_steps = "tiny", 4
        t.episodes, t.seeds, t.sweep_episodes = "1,2", "0,1", 1
        t.learning_rates, t.shared_learning_rate = "1e-3,3e-3", 1e-3
        t.finetune_steps, t.finetune_warmup = 4, 1
        c.finetune.heldout_episodes, c.finetune.every, c.finetune.windows = 2, 2, 4
    elif cluster:
        t.sizes, t.pretrain_steps = "364m,1.18b", 200_000
        t.episodes, t.sweep_episodes = "1,10,100,1000", 100
        t.learning_rates, t.shared_learning_rate = "1e-5,3e-5,1e-4", 1e-4
        t.finetune_steps, t.finetune_warmup = 10_000, 1_000
        c.finetune.heldout_episodes, c.finetune.every, c.finetune.windows = 50, 1_000, 256
    else:
        c.finetune.every = 25

    c.eval.tasks = heldout
    c.eval.episodes = 2 if quick else 50 if cluster else 10
    c.eval.batch_size = 2 if quick else 25 if cluster else 10
    c.eval.prompt = "none"  # scored as fine-tuned, without a demonstration
    c.eval.gif = False
    c.evaluators = {}
    return c
