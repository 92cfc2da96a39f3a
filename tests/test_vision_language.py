"""Vision-language tokenization (patches, then text; loss on caption / answer only) and the
MiniGrid scenes whose texts come from the true grid state."""

import numpy as np
import pytest
from minigrid.core.constants import COLORS

from gato.data.recording import scenes
from gato.tokenizers import sequence as seqlib
from gato.tokenizers.sequence import Modality
from gato.tokenizers.text import default_tokenizer
from gato.tokenizers.vision_language import (
    example_length,
    tokenize_caption,
    tokenize_image_text,
    tokenize_vqa,
)

EOS = 2


def _image() -> np.ndarray:
    """uint8 [16, 32, 3]: two patches, the left all 10, the right all 200."""
    image = np.full((16, 32, 3), 10, np.uint8)
    image[:, 16:] = 200
    return image


def test_caption_example_exact():
    seq = tokenize_caption(_image(), "a red ball")
    seqlib.validate(seq)
    assert seq["tokens"].tolist() == [0, 0, 264, 2824, 283, 422, EOS]
    assert seq["modality"].tolist() == [Modality.IMAGE] * 2 + [Modality.TEXT] * 5
    assert seq["loss_mask"].tolist() == [False, False, True, True, True, True, True]
    assert seq["local_pos"].tolist() == [0, 1, 0, 0, 0, 0, 0]
    assert not seq["is_action"].any()
    assert (seq["patches"][0] == 10).all() and (seq["patches"][1] == 200).all()
    assert not seq["patches"][2:].any()
    np.testing.assert_array_equal(seq["patch_pos"][:2], [[0, 1, 0, 0.5], [0, 1, 0.5, 1]])
    assert not seq["patch_pos"][2:].any()


def test_vqa_example_loss_on_answer_only():
    seq = tokenize_vqa(_image(), "what colour is the box?", "purple")
    assert seq["tokens"].tolist() == [0, 0, 1595, 18266, 301, 271, 4927, 67, 14215, EOS]
    assert seq["loss_mask"].tolist() == [False] * 8 + [True, True]
    assert default_tokenizer().decode(seq["tokens"][2:-1]) == "what colour is the box? purple"
    assert example_length((16, 32, 3), "what colour is the box?", "purple") == 10


def test_image_withheld_and_errors():
    seq = tokenize_image_text(None, "", "a red ball")
    assert seq["tokens"].tolist() == [264, 2824, 283, 422, EOS]
    assert (seq["modality"] == Modality.TEXT).all() and seq["loss_mask"].all()
    with pytest.raises(ValueError, match="target text is empty"):
        tokenize_caption(_image(), "")
    with pytest.raises(ValueError, match="question is empty"):
        tokenize_vqa(_image(), "", "yes")
    with pytest.raises(ValueError, match="multiples of 16"):
        tokenize_caption(np.zeros((20, 16, 3), np.uint8), "x")


def test_scene_seed_zero_exact():
    scene = scenes.make_scene(0)
    assert scene.image.shape == (64, 64, 3) and scene.image.dtype == np.uint8
    assert [(o.kind, o.colour, o.row, o.col) for o in scene.objects] == [
        ("ball", "yellow", 2, 2), ("key", "blue", 2, 3)]
    assert scene.captions == ("a yellow ball and a blue key", "a blue key right of a yellow ball")
    assert scene.questions == (
        ("is the yellow ball left of the blue key?", "yes"), ("how many keys are there?", "1"),
        ("what colour is the ball?", "yellow"), ("is there a blue key?", "yes"),
        ("where is the blue key?", "bottom right"))


@pytest.mark.parametrize("seed", range(12))
def test_scene_texts_and_pixels_follow_the_grid(seed):
    scene = scenes.make_scene(seed)
    objects = scene.objects
    cells = {(o.row, o.col): o for o in objects}
    for row in range(4):
        for col in range(4):  # the cell's inside, without minigrid's grey grid lines
            inside = scene.image[16 * row + 2:16 * row + 14, 16 * col + 2:16 * col + 14]
            if (row, col) in cells:
                assert (inside == COLORS[cells[(row, col)].colour]).all(-1).sum() > 10
            else:
                assert not inside.any()
    for question, answer in scene.questions:
        words = question.rstrip("?").split()
        if question.startswith("how many"):
            kind = {v: k for k, v in scenes.PLURALS.items()}[words[2]]
            assert answer == str(sum(o.kind == kind for o in objects))
        elif question.startswith("what colour"):
            assert [o.colour for o in objects if o.kind == words[-1]] == [answer]
        elif question.startswith("is there"):
            assert answer == ("yes" if any(o.name == " ".join(words[3:]) for o in objects)
                              else "no")
        elif question.startswith("where"):
            (o,) = [o for o in objects if o.name == " ".join(words[3:])]
            assert answer == scenes.quadrant(o)
        else:
            a, b = (next(o for o in objects if o.name == n)
                    for n in (" ".join(words[2:4]), " ".join(words[-2:])))
            assert answer == ("yes" if a.col < b.col else "no")
    again = scenes.make_scene(seed)  # a pure function of the seed
    assert (again.layout(), again.captions, again.questions) == (
        scene.layout(), scene.captions, scene.questions)
    assert (again.image == scene.image).all()


def test_split_seeds_hold_out_unseen_layouts():
    train, held = scenes.split_seeds(30, 10, seed=5)
    assert train == list(range(5, 35)) and len(held) == 10 and not set(train) & set(held)
    seen = {scenes.make_scene(s).layout() for s in train}
    assert all(scenes.make_scene(s).layout() not in seen for s in held)
    counts = {len(scenes.make_scene(s).objects) for s in train}
    assert counts == {2, 3, 4}
