"""Gato's Fig. 8: four model sizes on the main job's mixture and token budget; held-out action
nll and expert-normalized IQM against parameters and training FLOPs, with a power-law fit.

    gato scaling --config scaling --workdir runs/scaling              # the 2-core preset
    gato scaling --config scaling:cluster --workdir $RUN --set data.data_dir=$DATA
Sizes here run from the tiny model to the main job's small one (widths 64 to 256); every size
sees the same 2000 steps x 8 x 256 tokens and the same schedule. The cluster preset runs the
paper's 79M, 364M and 1.18B (Table 6) under experiments/gato_cluster.py's recipe.
Variants: steps=N, seeds=S (comma-separated, e.g. 0,1,2), quick (a smoke run), cluster.
"""

import ml_collections

from gato.config import load_config, parse_variant

VARIANTS = {"steps": int, "seeds": str, "quick": bool, "cluster": bool}
CPU_SIZES = {  # label -> ModelConfig fields over the base size (gato.model.config)
    "w64": {"name": "tiny"},
    "w128": {"name": "tiny", "embed_dim": 128, "num_heads": 4, "mlp_dim": 512},
    "w192": {"name": "small", "embed_dim": 192, "num_heads": 3, "mlp_dim": 768},
    "w256": {"name": "small"},
}
CLUSTER_SIZES = {"79m": {"name": "79m"}, "364m": {"name": "364m"},
                 "1180m": {"name": "1.18b"}}  # a label holds no dot (ConfigDict keys)


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    variant = parse_variant(arg, VARIANTS)
    quick, cluster = bool(variant.get("quick", False)), bool(variant.get("cluster", False))
    c = load_config("gato_cluster" if cluster else "gato_cpu:quick" if quick else "gato_cpu")

    if quick:
        c.scaling.sizes = {"w32": {"name": "tiny", "embed_dim": 32, "num_heads": 1},
                           "w64": {"name": "tiny"}}
        c.scaling.heldout_episodes, c.scaling.windows = 1, 4
    else:
        c.scaling.sizes = CLUSTER_SIZES if cluster else CPU_SIZES
        c.train.total_steps = int(variant.get("steps", 200_000 if cluster else 2000))
    c.scaling.seeds = str(variant.get("seeds", "0"))
    c.eval.gif = False
    return c
