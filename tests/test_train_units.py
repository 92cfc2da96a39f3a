"""Fast unit tests of the trainer pieces that need no model: optimizer, data, config, mesh."""

import ml_collections
import numpy as np
import pytest

from gato import config as config_lib
from gato.data.pipeline import sources, synthetic
from gato.testing.train import TINY_CONFIG, tiny_config
from gato.tokenizers import sequence as seqlib
from gato.tokenizers.sequence import Modality
from gato.tokenizers.vocab import SEPARATOR_ID
from gato.train import distributed, optimizer
from gato.train.mesh import mesh_shape


def paper_optimizer(**overrides) -> ml_collections.ConfigDict:
    config = optimizer.default_optimizer_config()
    config.update(overrides)
    return config


def test_default_optimizer_is_the_papers():
    c = optimizer.default_optimizer_config()
    assert (c.learning_rate, c.warmup_steps, c.b1, c.b2, c.eps, c.weight_decay, c.clip_norm) == (
        1e-4, 15_000, 0.9, 0.95, 1e-8, 0.1, 1.0)


def test_schedule_warms_up_then_decays_to_a_tenth():
    schedule = optimizer.make_schedule(paper_optimizer(), total_steps=100_000)
    assert float(schedule(0)) == 0.0
    assert float(schedule(7_500)) == pytest.approx(5e-5)
    assert float(schedule(15_000)) == pytest.approx(1e-4)
    assert float(schedule(57_500)) < 1e-4
    assert float(schedule(100_000)) == pytest.approx(1e-5)
    assert float(schedule(200_000)) == pytest.approx(1e-5)


def test_weight_decay_skips_vectors_and_clipping_bounds_the_update():
    params = {"kernel": np.ones((3, 3), np.float32), "bias": np.ones((3,), np.float32)}
    assert optimizer.decay_mask(params) == {"kernel": True, "bias": False}
    tx, _ = optimizer.make_optimizer(paper_optimizer(learning_rate=1.0, warmup_steps=0,
                                                     weight_decay=0.5), total_steps=10)
    grads = {"kernel": np.zeros((3, 3), np.float32), "bias": np.zeros((3,), np.float32)}
    updates, _ = tx.update(grads, tx.init(params), params)
    np.testing.assert_allclose(updates["bias"], 0.0)  # zero grad, no decay
    np.testing.assert_allclose(updates["kernel"], -0.5)  # decay only: -lr * wd * param


def test_synthetic_batches_have_the_token_sequence_layout():
    it = sources.make_iterator(tiny_config().data, batch_size=6, seq_len=48, seed=3)
    batch = next(it)
    assert batch["task_id"].shape == (6,) and batch["task_id"].dtype == np.int32
    for row in range(6):
        seqlib.validate({k: batch[k][row] for k in seqlib.FIELDS})
    control = batch["task_id"] > 0
    assert control.any()
    tokens, modality = batch["tokens"][control], batch["modality"][control]
    assert (tokens[modality == Modality.SEPARATOR] == SEPARATOR_ID).all()
    assert (batch["loss_mask"] == (batch["is_action"] | (batch["modality"] == Modality.TEXT))).all()
    assert (batch["patches"][batch["modality"] != Modality.IMAGE] == 0).all()


def test_synthetic_actions_are_a_function_of_observations():
    cfg = dict(synthetic.DEFAULTS, text_fraction=0.0)
    seq, task = synthetic.make_row(0, 5, 1, 64, cfg)
    sep = np.flatnonzero(seq["modality"] == Modality.SEPARATOR)[0]
    obs_disc = seq["tokens"][sep - cfg["num_discrete"]: sep]
    act_disc = seq["tokens"][sep + 1: sep + 1 + cfg["num_discrete"]]
    np.testing.assert_array_equal(act_disc, obs_disc + task)


def test_synthetic_is_deterministic_resumable_and_split_over_hosts():
    data = tiny_config().data
    whole = sources.make_iterator(data, batch_size=4, seq_len=32, seed=1)
    first, second = next(whole), next(whole)
    assert whole.get_state() == {"step": 2}
    host1 = sources.make_iterator(data, batch_size=2, seq_len=32, seed=1, process_index=1,
                                  process_count=2)
    host1.set_state({"step": 1})
    again = next(host1)
    for key in first:
        np.testing.assert_array_equal(again[key], second[key][2:])
    assert not np.array_equal(first["tokens"], second["tokens"])
    with pytest.raises(ValueError, match="step"):
        host1.set_state({})


def test_unknown_source_lists_the_registered_ones():
    with pytest.raises(ValueError, match="registered: .*synthetic"):
        sources.make_iterator(ml_collections.ConfigDict({"source": "nope"}), batch_size=1,
                              seq_len=8, seed=0)


def test_config_loads_by_path_with_variant_and_overrides(tmp_path):
    config = config_lib.load_config(f"{TINY_CONFIG}:batch=4,steps=7")
    assert (config.train.batch_size, config.train.total_steps) == (4, 7)
    config_lib.apply_overrides(config, ["optimizer.learning_rate=0.5", "model.name=small"])
    assert config.optimizer.learning_rate == 0.5 and config.model.name == "small"
    with pytest.raises(ValueError, match="config key train.nope is not a known key"):
        config_lib.apply_overrides(config, ["train.nope=1"])
    with pytest.raises(FileNotFoundError, match="missing.py"):
        config_lib.load_config(str(tmp_path / "missing.py"))


def test_mesh_shape_resolves_the_remaining_devices():
    assert mesh_shape([("data", -1), ("fsdp", 2)], 8) == (4, 2)
    assert mesh_shape([("data", 1), ("fsdp", -1)], 4) == (1, 4)
    with pytest.raises(ValueError, match="divide"):
        mesh_shape([("data", -1), ("fsdp", 3)], 8)
    with pytest.raises(ValueError, match="use 4 devices"):
        mesh_shape([("data", 2), ("fsdp", 2)], 8)


def test_distributed_is_a_no_op_for_one_process_and_rejects_partial_flags(monkeypatch):
    for var in ("GATO_COORDINATOR_ADDRESS", "JAX_COORDINATOR_ADDRESS", "GATO_AUTO_DISTRIBUTED"):
        monkeypatch.delenv(var, raising=False)
    assert distributed.initialize() is False
    with pytest.raises(ValueError, match="process id"):
        distributed.initialize("localhost:1234", 2, None)


def test_losses_of_modalities_without_targets_are_not_logged():
    from gato.train.metrics import drop_empty_losses

    values = {"train/loss": 1.5, "train/loss/text": 0.0, "train/targets/text": 0.0,
              "train/loss/continuous": 2.0, "train/targets/continuous": 12.0}
    assert drop_empty_losses(values) == {
        "train/loss": 1.5, "train/targets/text": 0.0, "train/loss/continuous": 2.0,
        "train/targets/continuous": 12.0}


def test_compile_counter_counts_each_new_shape_once():
    import jax
    import jax.numpy as jnp

    from gato.train.metrics import CompileCounter

    f = jax.jit(lambda x: jnp.tanh(x).sum())
    counter = CompileCounter()
    f(np.ones(3, np.float32)).block_until_ready()
    f(np.ones(3, np.float32)).block_until_ready()  # cached: no compilation
    after_one = counter.totals()
    f(np.ones(5, np.float32)).block_until_ready()  # a new shape compiles again
    after_two = counter.totals()
    assert after_one["perf/compiles"] == 1 and after_two["perf/compiles"] == 2
    assert 0 < after_one["perf/compile_s"] < after_two["perf/compile_s"]
    assert CompileCounter().totals() == {"perf/compiles": 0.0, "perf/compile_s": 0.0}


def test_seq_len_beyond_the_model_context_is_rejected():
    from gato.train.setup import check_context

    check_context(256, 256)
    with pytest.raises(ValueError, match="max_len"):
        check_context(512, 256)
