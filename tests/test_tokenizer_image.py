"""Image tokenizer: raster order, patch positions, normalization, round trips, bad input."""

import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gato.tokenizers import image


def random_image(rows: int, cols: int, channels: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(16 * rows, 16 * cols, channels), dtype=np.uint8)


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 5), st.integers(1, 5), st.sampled_from([1, 3]), st.integers(0, 1000))
def test_raster_order_and_round_trip(rows, cols, channels, seed):
    img = random_image(rows, cols, channels, seed)
    patches, pos = image.patchify(img)
    assert patches.shape == (rows * cols, 16, 16, 3) and patches.dtype == np.uint8
    assert pos.shape == (rows * cols, 4) and pos.dtype == np.float32
    rgb = np.repeat(img, 3, axis=-1) if channels == 1 else img
    np.testing.assert_array_equal(image.unpatchify(patches, *img.shape[:2]), rgb)
    for k in range(rows * cols):
        r, c = k // cols, k % cols
        np.testing.assert_array_equal(patches[k], rgb[16 * r : 16 * r + 16, 16 * c : 16 * c + 16])
        np.testing.assert_allclose(pos[k], [r / rows, (r + 1) / rows, c / cols, (c + 1) / cols],
                                   rtol=1e-6)


def test_patch_positions_of_a_non_square_image():
    pos = image.patch_positions(32, 48)
    np.testing.assert_allclose(pos[0], [0.0, 0.5, 0.0, 1 / 3], rtol=1e-6)
    np.testing.assert_allclose(pos[5], [0.5, 1.0, 2 / 3, 1.0], rtol=1e-6)
    assert np.all((pos >= 0) & (pos <= 1)) and np.all(pos[:, 1] > pos[:, 0])


def test_grayscale_is_repeated_to_rgb():
    patches, _ = image.patchify(random_image(1, 2, 1))
    np.testing.assert_array_equal(patches[..., 0], patches[..., 2])


def test_normalize_range_numpy_and_jax():
    pixels = np.array([0, 128, 255], dtype=np.uint8)
    out = image.normalize(pixels)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [-0.25, (128 / 255 * 2 - 1) / 4, 0.25], atol=1e-7)
    np.testing.assert_allclose(np.asarray(image.normalize(jnp.asarray(pixels))), out, atol=1e-7)
    tokens, pos = image.tokenize(random_image(2, 2, 3))
    assert tokens.shape == (4, 16, 16, 3) and -0.25 <= tokens.min() <= tokens.max() <= 0.25
    assert pos.shape == (4, 4)


@pytest.mark.parametrize(
    "img, match",
    [
        (np.zeros((32, 32, 3), np.float32), "'pixels'.*uint8"),
        (np.zeros((30, 32, 3), np.uint8), r"'pixels'.*\(30, 32, 3\).*multiples of 16"),
        (np.zeros((32, 32, 4), np.uint8), r"'pixels'.*\[H, W, 1 or 3\]"),
        (np.zeros((32, 32), np.uint8), r"'pixels'.*\[H, W, 1 or 3\]"),
    ],
)
def test_bad_images_raise_naming_key(img, match):
    with pytest.raises(ValueError, match=match):
        image.patchify(img, key="pixels")


def test_unpatchify_checks_shape():
    patches, _ = image.patchify(random_image(2, 2, 3))
    with pytest.raises(ValueError, match="cannot assemble"):
        image.unpatchify(patches, 48, 32)
