"""Vision-language in the training mixture (patches before text, loss on caption / answer
only, through the same loader) and the held-out metrics with the image kept, withheld or
shuffled."""

import numpy as np
import pytest

from gato.config import complete
from gato.data.formats.captions import ImageText
from gato.data.pipeline import image_text_scoring as scoring
from gato.data.pipeline.examples import TaskData
from gato.data.pipeline.image_text import ImageTextWindows
from gato.data.pipeline.loader import build_iterator, make_iterator
from gato.data.recording import scene_builder
from gato.testing.pipeline import fake_tasks
from gato.tokenizers.sequence import Modality
from gato.tokenizers.text import default_tokenizer
from gato.tokenizers.vocab import TEXT_VOCAB_SIZE

EOS = 2


def _records(count: int = 6) -> list[ImageText]:
    rng = np.random.default_rng(0)
    return [ImageText(rng.integers(0, 256, (32, 32, 3), np.uint8),
                      captions=(f"picture number {i}",),
                      questions=((f"which picture is this {i}?", f"number {i}"),), image_id=i)
            for i in range(count)]


def _targets(records: list[ImageText]) -> set[tuple[int, ...]]:
    """The loss-masked ids each text may contribute: target + EOS."""
    tok = default_tokenizer()
    return {tuple(tok.encode(t).tolist()) + (EOS,) for r in records for _, t in r.texts()}


def _segments(row: dict[str, np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
    """(image token positions, text token positions) of each packed example in a window."""
    modality = row["modality"]
    out, i, n = [], 0, int((modality != Modality.PAD).sum())
    while i < n:
        j = i
        while j < n and modality[j] == Modality.IMAGE:
            j += 1
        k = j
        while k < n and modality[k] == Modality.TEXT:
            k += 1
            if row["tokens"][k - 1] == EOS:
                break
        out.append((np.arange(i, j), np.arange(j, k)))
        i = k
    return out


def _check_window(row: dict[str, np.ndarray], targets: set[tuple[int, ...]]) -> int:
    """Asserts each example is patches, then text whose loss-masked ids are one target + EOS."""
    segments = _segments(row)
    for image, text in segments:
        assert image.size == 4 and text.size > 0  # 32x32: four patches, first
        assert row["local_pos"][image].tolist() == [0, 1, 2, 3]
        assert not row["loss_mask"][image].any() and row["patches"][image].any()
        masked = row["tokens"][text][row["loss_mask"][text]]
        assert tuple(masked.tolist()) in targets
        assert row["tokens"][text[-1]] == EOS and row["loss_mask"][text[-1]]
        assert row["loss_mask"][text].tolist() == sorted(row["loss_mask"][text].tolist())
    assert not row["loss_mask"][row["modality"] == Modality.PAD].any()
    return len(segments)


def test_windows_pack_whole_examples():
    records = _records()
    windows = ImageTextWindows(records, seq_len=64)
    assert len(windows) == 6
    row = windows.chunk(3)
    assert _check_window(row, _targets(records)) >= 2
    for field in row:
        np.testing.assert_array_equal(row[field], windows.chunk(3)[field])  # pure of the index
    with pytest.raises(ValueError, match="does not fit in seq_len=8"):
        ImageTextWindows(records, seq_len=8).chunk(0)


def test_mixture_batch_has_patches_then_text():
    seq_len = 64
    records = _records()
    tasks = fake_tasks(seq_len) + [TaskData("minigrid-scenes", "vision_language",
                                            chunks=ImageTextWindows(records, seq_len))]
    config = complete({"data": {
        "mixture": {"control": 1.0, "atari": 1.0, "text": 0.5, "vision_language": 0.5},
        "worker_count": 0}}).data
    iterator = build_iterator(tasks, config, batch_size=16, seq_len=seq_len, seed=1)
    vl = iterator.task_names.index("minigrid-scenes")
    seen = 0
    for _ in range(3):
        batch = next(iterator)
        for b in np.flatnonzero(batch["task_id"] == vl):
            seen += _check_window({k: batch[k][b] for k in batch}, _targets(records))
    assert seen > 0 and iterator.stats["per_task"]["minigrid-scenes"] > 0


@pytest.fixture(scope="module")
def scenes_dir(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("scenes")
    scene_builder.build_scenes(data_dir, train=12, validation=4)
    return data_dir


def test_make_iterator_reads_the_scenes(scenes_dir):
    config = complete({"data": {
        "source": "mixture", "data_dir": str(scenes_dir), "split": "train",
        "suites": "vision_language", "mixture": {"vision_language": 1.0}, "worker_count": 0}}).data
    batch = next(make_iterator(config, batch_size=2, seq_len=96, seed=0))
    for b in range(2):
        modality, loss = batch["modality"][b], batch["loss_mask"][b]
        assert (modality[:16] == Modality.IMAGE).all() and modality[16] == Modality.TEXT
        assert not loss[modality == Modality.IMAGE].any() and loss.any()
        assert (modality[loss] == Modality.TEXT).all()


def _oracle(records: list[ImageText]):
    """Log-probs that know each text's next token only when the example shows its own image."""
    tok = default_tokenizer()
    owner = {tuple(tok.encode(t).tolist()): r.image.tobytes() for r in records
             for _, t in r.texts()}

    def fn(batch):
        out = np.zeros((*batch["tokens"].shape, TEXT_VOCAB_SIZE + 5), np.float32)
        for b in range(len(out)):
            mask = batch["loss_mask"][b]
            image = batch["patches"][b][batch["modality"][b] == Modality.IMAGE]
            shown = b"" if not image.size else np.concatenate(
                [np.concatenate(list(image[r * 2:r * 2 + 2]), axis=1) for r in range(2)]).tobytes()
            if owner.get(tuple(batch["tokens"][b][mask][:-1].tolist())) == shown:
                cols = np.flatnonzero(mask)
                out[b, cols - 1, batch["tokens"][b, cols]] = 30.0
        return out

    return fn


def test_scores_with_image_kept_withheld_or_shuffled():
    records = _records(5)
    result = scoring.compare_images(_oracle(records), records, batch_size=4)
    assert set(result) == set(scoring.VARIANTS)
    kept = result["image"]
    assert kept["all"]["examples"] == 10 and kept["caption"]["examples"] == 5
    assert kept["all"]["exact_match"] == 1.0 and kept["all"]["nll"] < 1e-6
    for variant in ("zeroed", "dropped", "shuffled"):
        other = result[variant]["vqa"]
        assert other["exact_match"] == 0.0
        assert other["nll"] == pytest.approx(np.log(TEXT_VOCAB_SIZE), rel=1e-6)
    lo, hi = kept["all"]["exact_match_interval"]
    assert lo == hi == 1.0
    dropped = scoring.heldout_examples(records, "dropped")
    assert all((s["modality"] != Modality.IMAGE).all() for s, _ in dropped)
    with pytest.raises(ValueError, match="image variant 'blurred'"):
        scoring.heldout_examples(records, "blurred")


def test_scores_a_real_model(scenes_dir):
    from gato.data.formats.captions import load_image_text
    from gato.model.config import get_model_config
    from gato.testing.model import init_params, jit_apply

    config = get_model_config("tiny")
    params, apply = init_params(config), jit_apply(config)
    held = load_image_text("minigrid-scenes", scenes_dir, "validation")
    result = scoring.compare_images(lambda b: apply(params, b), held, ("image", "shuffled"),
                                    batch_size=8, seq_len=64)
    for variant in ("image", "shuffled"):
        metrics = result[variant]["all"]
        assert metrics["examples"] == sum(len(held[i].texts()) for i in range(4))
        assert 0 <= metrics["token_accuracy"] <= 1 and np.isfinite(metrics["nll"])
