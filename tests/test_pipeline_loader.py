"""The grain loader: batch layout, determinism, resume, workers, bad episodes, real data."""

import json

import numpy as np
import pytest

from gato.data.pipeline import loader as pipeline
from gato.data.pipeline.examples import TaskData
from gato.testing import pipeline as fakes
from gato.tokenizers.sequence import FIELDS, Modality

SEQ_LEN, BATCH = 48, 4


def _config(**overrides):
    config = pipeline.default_data_config()
    config.worker_count = 0
    config.update(overrides)
    return config


def _take(iterator, n):
    return [next(iterator) for _ in range(n)]


def _assert_same(batches_a, batches_b):
    for a, b in zip(batches_a, batches_b, strict=True):
        assert a.keys() == b.keys()
        for key in a:
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)


@pytest.fixture(scope="module")
def tasks():
    return fakes.fake_tasks(SEQ_LEN, episodes=6)


def test_batches_have_the_contract_layout_and_are_deterministic(tasks):
    make = lambda seed: pipeline.build_iterator(tasks, _config(), batch_size=BATCH,
                                                seq_len=SEQ_LEN, seed=seed)
    first, again, other = _take(make(0), 3), _take(make(0), 3), _take(make(1), 3)
    for name, (shape, dtype) in FIELDS.items():
        assert first[0][name].shape == (BATCH, SEQ_LEN, *shape) and first[0][name].dtype == dtype
    assert first[0]["task_id"].shape == (BATCH,) and first[0]["task_id"].dtype == np.int32
    assert make(0).task_names == ["pong", "pydocs", "run", "walk"]
    _assert_same(first, again)
    assert not all(np.array_equal(a["tokens"], b["tokens"])
                   for a, b in zip(first, other, strict=True))


def test_resume_from_state_continues_exactly(tasks):
    iterator = pipeline.build_iterator(tasks, _config(), batch_size=BATCH, seq_len=SEQ_LEN, seed=2)
    _take(iterator, 3)
    state = json.loads(json.dumps(iterator.get_state()))
    expected, stats = _take(iterator, 3), iterator.stats
    resumed = pipeline.build_iterator(tasks, _config(), batch_size=BATCH, seq_len=SEQ_LEN, seed=2)
    resumed.set_state(state)
    _assert_same(expected, _take(resumed, 3))
    assert resumed.stats == stats and stats["examples"] == 6 * BATCH
    assert sum(stats["per_task"].values()) == 6 * BATCH


def test_worker_processes_give_the_same_batches_and_resume_across_worker_counts(tasks):
    in_process = _take(pipeline.build_iterator(tasks, _config(), batch_size=BATCH,
                                               seq_len=SEQ_LEN, seed=3), 5)
    workers = pipeline.build_iterator(tasks, _config(worker_count=2), batch_size=BATCH,
                                      seq_len=SEQ_LEN, seed=3)
    try:
        _assert_same(in_process[:2], _take(workers, 2))
        state = json.loads(json.dumps(workers.get_state()))
        _assert_same(in_process[2:], _take(workers, 3))
    finally:
        workers.close()
    resumed = pipeline.build_iterator(tasks, _config(), batch_size=BATCH, seq_len=SEQ_LEN, seed=3)
    resumed.set_state(state)
    _assert_same(in_process[2:], _take(resumed, 3))


def test_set_state_rejects_foreign_state(tasks):
    iterator = pipeline.build_iterator(tasks, _config(), batch_size=BATCH, seq_len=SEQ_LEN, seed=0)
    with pytest.raises(ValueError, match="not a data pipeline state"):
        iterator.set_state({"step": 3})


def _walk_only(source):
    return [TaskData("walk", "control", fakes.CONTROL_SPEC, source, where="memory")]


def test_bad_episodes_are_skipped_counted_and_never_used():
    source = fakes.RecordingSource(fakes.control_episodes(5), broken=[1], corrupt=[3])
    iterator = pipeline.build_iterator(_walk_only(source), _config(), batch_size=8, seq_len=32,
                                       seed=0)
    batches = _take(iterator, 4)
    stats = iterator.stats
    assert stats["bad_episode_skips"] > 0
    messages = stats["bad_episodes"]
    assert any("'walk'" in m and "episode 1" in m and "truncated" in m for m in messages)
    assert any("episode 3" in m and "'state' missing" in m for m in messages)
    for batch in batches:
        first = batch["tokens"][:, 0][batch["modality"][:, 0] == Modality.DISCRETE]
        assert not set(first.tolist()) & {1, 3}  # the episode-id token of each window


def test_bad_episode_fails_the_run_when_configured():
    source = fakes.RecordingSource(fakes.control_episodes(3), corrupt=[0, 1, 2])
    iterator = pipeline.build_iterator(_walk_only(source), _config(on_bad_episode="fail"),
                                       batch_size=2, seq_len=32, seed=0)
    with pytest.raises(Exception, match=r"task 'walk' \(memory\) episode \d: .*'state' missing"):
        next(iterator)


def test_make_iterator_reads_generated_tfds_and_text(tmp_path):
    from gato import cli

    argv = ["generate", "--tasks", "cartpole-swingup", "--episodes", "2", "--max-episode-steps",
            "12", "--policy", "random", "--data-dir", str(tmp_path)]
    assert cli.main(argv) == 0
    config = _config(suites="text", tasks="cartpole-swingup", data_dir=str(tmp_path),
                     text_max_documents=3, worker_count=1)
    iterator = pipeline.make_iterator(config, batch_size=4, seq_len=64, seed=0)
    try:
        batches = _take(iterator, 3)
    finally:
        iterator.close()
    assert iterator.task_names == ["cartpole-swingup", "pydocs"]
    task_ids = np.concatenate([b["task_id"] for b in batches])
    assert set(task_ids.tolist()) == {0, 1}
    for batch in batches:
        for row, task_id in zip(range(BATCH), batch["task_id"], strict=True):
            modality = batch["modality"][row]
            if task_id == 0:
                assert (modality == Modality.CONTINUOUS).any() and batch["is_action"][row].any()
            else:  # text, then padding at the end of the corpus
                assert set(modality.tolist()) <= {Modality.TEXT, Modality.PAD}
                np.testing.assert_array_equal(batch["loss_mask"][row], modality == Modality.TEXT)
