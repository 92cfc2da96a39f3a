"""The "image_text" evaluator: held-out captions and answers under each image variant, and the
text-only prior beside them."""

import pytest

from gato.config import complete
from gato.data.pipeline import image_text
from gato.data.recording import scene_builder
from gato.eval import image_text as image_text_eval
from gato.testing.eval import tiny_model
from gato.train import evaluators


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("scenes")
    scene_builder.build_scenes(data_dir, train=16, validation=4)
    return complete({"model": {"name": "tiny", "overrides": {"max_len": 64}},
                     "data": {"data_dir": str(data_dir), "suites": "vision_language",
                              "mixture": {"vision_language": 1.0}}})


def test_prior_answers_each_question_with_its_most_frequent_training_answer(config):
    train = image_text.load_source(config.data, "train")
    heldout = image_text.load_source(config.data, "validation")
    prior = image_text_eval.answer_prior(train, heldout)
    assert prior["questions"] == sum(len(heldout[i].questions) for i in range(len(heldout)))
    assert 0.0 <= prior["exact_match"] <= 1.0


def test_evaluator_reports_every_variant_and_the_prior(config, tmp_path):
    _, params = tiny_model(seed=0, max_len=64)
    evaluator = evaluators.get("image_text")(
        config, {"examples": 3, "variants": "image,shuffled", "batch_size": 4}, tmp_path)
    metrics = evaluator.run(params, 5)
    for variant in ("image", "shuffled"):
        for kind in ("all", "caption", "vqa"):
            name = f"image_text/{variant}/{kind}/token_accuracy"
            assert 0.0 <= metrics[f"{name}_low"] <= metrics[name] <= metrics[f"{name}_high"] <= 1
            assert 0.0 <= metrics[name] <= 1.0
            assert metrics[f"image_text/{variant}/{kind}/nll"] > 0
    assert "image_text/prior/vqa/exact_match" in metrics
    with pytest.raises(ValueError, match="variants among"):
        evaluators.get("image_text")(config, {"variants": "image,blurred"}, tmp_path)
