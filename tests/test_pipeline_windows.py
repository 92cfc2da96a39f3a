"""Windows: whole timesteps from a boundary, padding, loss mask, text packing, validation."""

import numpy as np
import pytest

from gato.data.pipeline import windows
from gato.data.pipeline.examples import ExampleMaker, TaskData
from gato.testing import pipeline as fakes
from gato.tokenizers import sequence as seqlib
from gato.tokenizers.sequence import Modality
from gato.tokenizers.timestep import tokenize_episode

SEQ_LEN = 64
STEP = fakes.CONTROL_TOKENS_PER_STEP


def _steps(seq):
    """(episode id, step index) of each timestep in a window of fake control data."""
    starts = np.flatnonzero((seq["local_pos"] == 0) & (seq["modality"] == Modality.DISCRETE)
                            & ~seq["is_action"])
    return [(int(seq["tokens"][s]), int(seq["tokens"][s + 4])) for s in starts]


def test_episode_windows_hold_whole_consecutive_timesteps():
    tasks = [TaskData("walk", "control", fakes.CONTROL_SPEC, fakes.control_episodes(6, seed=1))]
    maker = ExampleMaker(tasks, np.ones(1), SEQ_LEN, seed=0, prompt_fraction=0.0)
    for index in range(30):
        ex = maker(index)
        n = int((ex["modality"] != Modality.PAD).sum())
        assert n % STEP == 0 and n > 0  # whole timesteps only, then padding
        assert (ex["modality"][n:] == Modality.PAD).all() and not ex["loss_mask"][n:].any()
        assert ex["local_pos"][0] == 0 and ex["modality"][0] == Modality.DISCRETE  # boundary
        steps = _steps(ex)
        episode = tasks[0].episodes[steps[0][0]]
        usable = len(episode["action"]) - 1  # the is_last step's placeholder action is dropped
        assert len(steps) == min(SEQ_LEN // STEP, usable) and steps[-1][1] < usable
        assert [s for _, s in steps] == list(range(steps[0][1], steps[0][1] + len(steps)))
        np.testing.assert_array_equal(ex["loss_mask"], ex["is_action"])  # targets = actions only


def test_start_is_drawn_so_long_episodes_fill_the_window():
    episode = fakes.control_episodes(1, seed=2, min_len=30, max_len=30)[0]
    starts = set()
    for seed in range(40):
        rng = np.random.default_rng(seed)
        start = windows.choose_start(rng, 30, SEQ_LEN // STEP)
        seq = windows.episode_window(tokenize_episode, fakes.CONTROL_SPEC, episode, start,
                                     SEQ_LEN, 30)
        assert seqlib.length(seq) == SEQ_LEN
        starts.add(start)
    assert len(starts) > 5 and max(starts) <= 30 - SEQ_LEN // STEP


@pytest.mark.parametrize("fraction", [0.0, 0.5, 1.0])
def test_episode_start_fraction_sets_the_share_of_windows_at_timestep_zero(fraction):
    episodes = fakes.control_episodes(4, seed=3, min_len=200, max_len=200)
    tasks = [TaskData("walk", "control", fakes.CONTROL_SPEC, episodes)]
    maker = ExampleMaker(tasks, np.ones(1), SEQ_LEN, seed=0, prompt_fraction=0.0,
                         episode_start_fraction=fraction)
    at_zero = np.mean([_steps(maker(index))[0][1] == 0 for index in range(400)])
    # uniform starts over [0, 200 - n_fit] put ~0.5% at zero; the fraction adds its share
    assert abs(at_zero - fraction) < 0.08


def test_episode_start_fraction_must_be_a_probability():
    tasks = [TaskData("walk", "control", fakes.CONTROL_SPEC, fakes.control_episodes(2, seed=1))]
    with pytest.raises(ValueError, match="episode_start_fraction"):
        ExampleMaker(tasks, np.ones(1), SEQ_LEN, seed=0, episode_start_fraction=1.5)


def test_timestep_longer_than_budget_keeps_its_action_tail():
    episode = fakes.atari_episodes(1, length=3, size=64)[0]  # 16 patches + sep + 1 action
    seq = windows.episode_window(tokenize_episode, fakes.ATARI_SPEC, episode, 0, 10, 3)
    assert seqlib.length(seq) == 10
    assert seq["is_action"][-1] and seq["loss_mask"][-1] and seq["tokens"][-2] != 0


def test_text_packing_concatenates_documents_and_cuts_chunks():
    docs = [seqlib.empty(n) for n in (5, 30, 12)]
    for i, d in enumerate(docs):
        d["tokens"][:] = np.arange(len(d["tokens"])) + 100 * (i + 1)
        d["modality"][:] = Modality.TEXT
        d["loss_mask"][:] = True
    chunks = windows.TextChunks(docs, 16)
    assert len(chunks) == 3  # 47 tokens -> 16 + 16 + 15 (padded)
    whole = np.concatenate([chunks.chunk(i)["tokens"] for i in range(3)])
    np.testing.assert_array_equal(whole[:47], np.concatenate([d["tokens"] for d in docs]))
    last = chunks.chunk(2)
    assert last["modality"][-1] == Modality.PAD and not last["loss_mask"][-1]
    assert last["loss_mask"][:-1].all()
    with pytest.raises(IndexError):
        chunks.chunk(3)


def test_real_text_chunks_end_documents_with_eos():
    from gato.tokenizers.text import default_tokenizer

    chunks = fakes.text_chunks(SEQ_LEN, count=5)
    tokens = np.concatenate([chunks.chunk(i)["tokens"] for i in range(len(chunks))])
    assert (tokens == default_tokenizer().eos_id).sum() == 5


@pytest.mark.parametrize("mutate, message", [
    (lambda e: e["observation"].pop("state"), "'state' missing"),
    (lambda e: e.update(action=e["action"][:, :1]), "action shape"),
    (lambda e: e["observation"].update(step=e["observation"]["step"].astype(np.float32)),
     "dtype"),
    (lambda e: e["observation"].update(state=e["observation"]["state"][:-1]), "expected T"),
])
def test_validate_episode_names_the_problem(mutate, message):
    episode = fakes.control_episodes(1, seed=3)[0]
    assert windows.validate_episode(fakes.CONTROL_SPEC, episode) == len(episode["action"]) - 1
    mutate(episode)
    with pytest.raises(windows.BadEpisodeError, match=message):
        windows.validate_episode(fakes.CONTROL_SPEC, episode)
