"""Prompt conditioning: fractions, goal (end) prompts, masking, other-episode sourcing."""

import numpy as np
import pytest

from gato.data.pipeline.examples import ExampleMaker, TaskData
from gato.data.pipeline.prompting import PromptKind
from gato.testing import pipeline as fakes
from gato.tokenizers.sequence import Modality

SEQ_LEN = 96
STEP = fakes.CONTROL_TOKENS_PER_STEP


def _steps(ex):
    """[(episode id, step, loss on its actions)] for each timestep of a fake control window."""
    starts = np.flatnonzero((ex["local_pos"] == 0) & (ex["modality"] == Modality.DISCRETE)
                            & ~ex["is_action"])
    return [(int(ex["tokens"][s]), int(ex["tokens"][s + 4]), bool(ex["loss_mask"][s + 6]))
            for s in starts]


def _within(count: int, total: int, p: float, sds: float = 4.0) -> bool:
    return abs(count / total - p) <= sds * np.sqrt(p * (1 - p) / total)


def test_prompt_fractions_match_config():
    episodes = fakes.control_episodes(10, seed=4, min_len=20, max_len=40)
    maker = ExampleMaker([TaskData("walk", "control", fakes.CONTROL_SPEC, episodes)], np.ones(1),
                         SEQ_LEN, seed=7, prompt_fraction=0.25, prompt_end_fraction=0.5)
    kinds = np.array([maker(i)["_prompt"] for i in range(800)])
    prompted = int((kinds != PromptKind.NONE).sum())
    assert _within(prompted, kinds.size, 0.25)
    assert _within(int((kinds == PromptKind.END).sum()), prompted, 0.5)


def test_prompt_comes_first_from_another_episode_without_loss():
    episodes = fakes.control_episodes(6, seed=5, min_len=20, max_len=30)
    maker = ExampleMaker([TaskData("walk", "control", fakes.CONTROL_SPEC, episodes)], np.ones(1),
                         SEQ_LEN, seed=1, prompt_fraction=1.0, prompt_end_fraction=0.5,
                         prompt_tokens=3 * STEP)
    seen = set()
    for index in range(40):
        ex = maker(index)
        steps = _steps(ex)
        prompt = [s for s in steps if not s[2]]
        body = [s for s in steps if s[2]]
        assert steps[: len(prompt)] == prompt and len(prompt) == 3  # prompt first, 3 timesteps
        assert (ex["modality"] != Modality.PAD).sum() == len(steps) * STEP
        assert len({e for e, _, _ in prompt}) == 1 and prompt[0][0] != body[0][0]
        assert [s for _, s, _ in prompt] == list(range(prompt[0][1], prompt[0][1] + 3))
        assert not ex["loss_mask"][: 3 * STEP].any()
        last = len(episodes[prompt[0][0]]["action"]) - 2  # the last step with a real action
        if ex["_prompt"] == PromptKind.END:
            assert prompt[-1][1] == last
        seen.add((int(ex["_prompt"]), prompt[-1][1] == last))
    assert (int(PromptKind.UNIFORM), False) in seen and (int(PromptKind.END), True) in seen


def test_no_prompt_when_fraction_is_zero_and_text_never_prompted():
    tasks = fakes.fake_tasks(SEQ_LEN, episodes=4)
    maker = ExampleMaker(tasks, np.full(4, 0.25), SEQ_LEN, seed=0, prompt_fraction=0.0)
    kinds = {maker(i)["_prompt"] for i in range(40)}
    assert kinds <= {-1, int(PromptKind.NONE)}


@pytest.mark.parametrize("field, value", [("prompt_fraction", 1.5), ("prompt_end_fraction", -0.1),
                                          ("prompt_tokens", SEQ_LEN)])
def test_bad_prompt_settings_are_named(field, value):
    task = TaskData("walk", "control", fakes.CONTROL_SPEC, fakes.control_episodes(2))
    with pytest.raises(ValueError, match=field):
        ExampleMaker([task], np.ones(1), SEQ_LEN, seed=0, **{field: value})
