"""The cluster recipe lowered for GPU and TPU on this CPU-only machine (`gato.train.export`).

The train step keeps the recipe's bf16 compute, remat policy, loss path and logical axis rules,
shrunk to the tiny model, 64-token windows and 16 rows on an abstract mesh of 8 devices
(data 2 x fsdp 4); the decode step is the agent's per-token call with its KV cache.
"""

import jax
import jax.numpy as jnp
import ml_collections
import pytest
from jax.sharding import PartitionSpec as P

from gato.config import apply_overrides, load_config
from gato.errors import ConfigError
from gato.model import DEFAULT_LOGICAL_AXIS_RULES
from gato.model.build import build_model
from gato.tokenizers.sequence import Modality
from gato.train import export as export_lib

SMALL = ["model.name=tiny", "train.seq_len=64", "train.batch_size=16",
         "mesh.axes=[('data', -1), ('fsdp', 4)]"]


def cluster_config(*overrides: str):
    return apply_overrides(load_config("gato_cluster"), [*SMALL, *overrides])


@pytest.fixture(scope="module")
def config():
    return cluster_config()


@pytest.fixture(scope="module")
def train_export(config):
    return export_lib.export_train_step(config, ["cuda", "tpu"], num_devices=8)


def test_recipe_keeps_what_is_lowered(config):
    """The shrunk config still is the recipe: bf16 compute, remat, dropout, data x fsdp."""
    _, model_config = build_model(config.model)
    assert model_config.dtype == "bfloat16" and model_config.remat
    assert export_lib.abstract_mesh(config.mesh, 8).shape == {"data": 2, "fsdp": 4}


def test_train_step_lowers_for_cuda_and_tpu(train_export):
    assert train_export.platforms == ("cuda", "tpu")
    assert train_export.nr_devices == 8
    text = train_export.mlir_module()
    assert 'sdy.mesh @mesh = <["data"=2, "fsdp"=4]>' in text
    assert "_platform_index" in text  # one module, a branch per platform where they differ
    stats = export_lib.module_stats(train_export)
    assert stats["bf16_dots"] > 0 and stats["f32_dots"] == 0
    assert stats["remat_locations"] > 0
    state_leaves = train_export.in_tree.children()[0].children()[0].num_leaves
    assert stats["donated_outputs"] == state_leaves  # the whole state is updated in place


def test_train_shardings_follow_the_logical_rules(config, train_export):
    mesh = export_lib.abstract_mesh(config.mesh, 8)
    (state, batch, rng), _ = jax.tree.unflatten(train_export.in_tree,
                                                train_export.in_shardings_jax(mesh))
    params = state.params
    assert params["embed"]["table"]["embedding"].spec == P(None, "fsdp")  # (vocab, embed)
    assert params["decoder"]["layers"]["mlp_in"]["kernel"].spec == P(None, "fsdp", None)
    assert params["decoder"]["layers"]["mlp_out"]["kernel"].spec == P(None, None, "fsdp")
    adam = state.opt_state[1][0]  # clip, then AdamW's scale_by_adam: moments like the params
    assert adam.mu["decoder"]["layers"]["mlp_in"]["kernel"].spec == P(None, "fsdp", None)
    assert state.step.spec == P() and rng.spec == P()
    assert batch.pop("task_id") is None  # unused without per-task losses: not an input
    assert {s.spec for s in batch.values()} == {P(("data", "fsdp"))}
    assert set(batch) >= {"tokens", "patches", "target_index", "image_index"}
    out_state, metrics = jax.tree.unflatten(train_export.out_tree,
                                            train_export.out_shardings_jax(mesh))
    assert out_state.params["embed"]["table"]["embedding"].spec == P(None, "fsdp")
    assert all(m.spec == P() for m in metrics.values())


def test_float32_without_remat_shows_the_checks_bite():
    config = cluster_config()
    config.model.overrides = ml_collections.ConfigDict(
        {**config.model.overrides.to_dict(), "dtype": "float32", "remat": False})
    stats = export_lib.module_stats(export_lib.export_train_step(config, ["cuda"]))
    assert stats["platforms"] == "cuda"
    assert stats["bf16_dots"] == 0 and stats["f32_dots"] > 0 and stats["remat_locations"] == 0


def test_decode_step_lowers_for_cuda_and_tpu(config):
    exported = export_lib.export_decode_step(config.model, ["cuda", "tpu"], batch_size=4)
    assert exported.platforms == ("cuda", "tpu") and exported.nr_devices == 1
    logits, cache = jax.tree.unflatten(exported.out_tree, exported.out_avals)
    assert logits.shape == (4, 1024) and logits.dtype == jnp.float32
    assert cache.keys[0].dtype == jnp.bfloat16
    stats = export_lib.module_stats(exported)
    assert stats["bf16_dots"] > 0 and stats["f32_dots"] == 0
    assert stats["donated_outputs"] == len(jax.tree.leaves(cache))  # cache updated in place


def test_agent_action_step_lowers_for_cuda_and_tpu(config):
    """The agent's own jitted call: append the last action id, sample the next in range."""
    from gato.eval.agent import compiled_decoder

    _, model_config = build_model(config.model)
    _, (params, _, cache) = export_lib.decode_step_inputs(config.model, batch_size=4)
    shape = jax.ShapeDtypeStruct
    exported = export_lib.lower(
        compiled_decoder(model_config).action_sample,
        (params, shape((4,), jnp.int32), cache, shape((4, 2), jnp.uint32), shape((), jnp.int32),
         shape((), jnp.float32)),
        ["cuda", "tpu"], lo=32000, hi=33024, mode="sample", modality=int(Modality.CONTINUOUS))
    ids, _ = jax.tree.unflatten(exported.out_tree, exported.out_avals)
    assert exported.platforms == ("cuda", "tpu") and ids.shape == (4,)


def test_uneven_sharding_rule_is_a_one_line_error():
    config = cluster_config()
    config.mesh.logical_axis_rules = (("vocab", "fsdp"),) + tuple(
        rule for rule in DEFAULT_LOGICAL_AXIS_RULES if rule[0] != "vocab")
    with pytest.raises(ConfigError, match=r"logical axis 'vocab' .*\['embedding'\] "
                                          r"\(33025, 64\).*'fsdp'.*33025") as error:
        export_lib.export_train_step(config, ["cuda"])
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("change, message", [
    (["train.batch_size=12"], "batch_size=12 is not divisible"),
    (["mesh.axes=[('data', -1), ('fsdp', 3)]"], "do not divide 8 devices"),
    (["mesh.axes=[('data', -1)]"], "must name a 'fsdp' axis"),
])
def test_bad_mesh_or_batch_is_a_one_line_error(change, message):
    with pytest.raises(ValueError, match=message) as error:
        export_lib.export_train_step(cluster_config(*change), ["cuda"])
    assert "\n" not in str(error.value)


def test_unknown_platform_is_refused(config):
    with pytest.raises(ValueError, match=r"platforms \['gpu'\]: use some of"):
        export_lib.export_decode_step(config.model, ["gpu"])
