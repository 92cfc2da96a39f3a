"""Image tokenizer: non-overlapping 16x16 patches in raster order (Gato, Reed et al. 2022, 2.1).

Images must have sides that are multiples of PATCH_SIZE: this module never resizes or pads (a
silent resize would change what the agent sees); bringing frames to such a size (e.g. Atari
210x160 -> 80x80 or 96x96 crops, Control Suite renders at 64x64) is the environment wrapper's job,
and any other size raises a ValueError naming the key and the shape.

Patches stay raw uint8 in token sequences; `normalize` maps them to [-1, 1] / sqrt(16), the
paper's input scaling, and runs on numpy or jax arrays alike (so the model applies it on device).
"""

from typing import Any

import numpy as np

from gato.tokenizers.vocab import IMAGE_CHANNELS, PATCH_SIZE

NORMALIZE_DIVISOR = float(np.sqrt(PATCH_SIZE))  # 4.0


def check_image(image: Any, key: str = "image") -> np.ndarray:
    """Returns `image` as a numpy array after checking dtype uint8, shape [H, W, 1 or 3], sides
    multiples of PATCH_SIZE; raises ValueError naming `key` otherwise."""
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise ValueError(f"image {key!r}: expected dtype uint8, got {image.dtype}")
    if image.ndim != 3 or image.shape[-1] not in (1, IMAGE_CHANNELS):
        raise ValueError(f"image {key!r}: expected shape [H, W, 1 or 3], got {image.shape}")
    height, width = image.shape[:2]
    if height == 0 or width == 0 or height % PATCH_SIZE or width % PATCH_SIZE:
        raise ValueError(
            f"image {key!r}: shape {image.shape} has sides that are not positive multiples of "
            f"{PATCH_SIZE}; resize or crop it in the environment wrapper"
        )
    return image


def patch_positions(height: int, width: int) -> np.ndarray:
    """float32 [N, 4]: (row_lo, row_hi, col_lo, col_hi) of each patch, normalized to [0, 1].

    Patch k (raster order) is at grid row k // cols, column k % cols and covers pixel rows
    [16 r / H, 16 (r + 1) / H) and columns [16 c / W, 16 (c + 1) / W) in normalized units.
    """
    rows, cols = height // PATCH_SIZE, width // PATCH_SIZE
    r, c = np.divmod(np.arange(rows * cols), cols)
    pos = np.stack(
        [r * PATCH_SIZE / height, (r + 1) * PATCH_SIZE / height,
         c * PATCH_SIZE / width, (c + 1) * PATCH_SIZE / width],
        axis=-1,
    )
    return pos.astype(np.float32)


def patchify(image: Any, key: str = "image") -> tuple[np.ndarray, np.ndarray]:
    """Cuts a uint8 [H, W, C] image (C in {1, 3}) into patches in raster order.

    Returns:
      patches: uint8 [N, 16, 16, 3] with N = (H / 16) * (W / 16); grayscale is repeated to RGB.
      patch_pos: float32 [N, 4], see `patch_positions`.
    """
    image = check_image(image, key)
    if image.shape[-1] == 1:
        image = np.repeat(image, IMAGE_CHANNELS, axis=-1)
    height, width = image.shape[:2]
    rows, cols = height // PATCH_SIZE, width // PATCH_SIZE
    grid = image.reshape(rows, PATCH_SIZE, cols, PATCH_SIZE, IMAGE_CHANNELS)
    patches = grid.transpose(0, 2, 1, 3, 4).reshape(-1, PATCH_SIZE, PATCH_SIZE, IMAGE_CHANNELS)
    return np.ascontiguousarray(patches), patch_positions(height, width)


def patchify_frames(frames: Any, key: str = "image") -> tuple[np.ndarray, np.ndarray]:
    """`patchify` over a stack of frames uint8 [T, H, W, C] -> ([T, N, 16, 16, 3], [N, 4])."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or len(frames) == 0:
        raise ValueError(f"image {key!r}: expected frames [T, H, W, C], got shape {frames.shape}")
    check_image(frames[0], key)
    steps, height, width, channels = frames.shape
    if channels == 1:
        frames = np.repeat(frames, IMAGE_CHANNELS, axis=-1)
    rows, cols = height // PATCH_SIZE, width // PATCH_SIZE
    grid = frames.reshape(steps, rows, PATCH_SIZE, cols, PATCH_SIZE, IMAGE_CHANNELS)
    patches = grid.transpose(0, 1, 3, 2, 4, 5).reshape(
        steps, rows * cols, PATCH_SIZE, PATCH_SIZE, IMAGE_CHANNELS)
    return np.ascontiguousarray(patches), patch_positions(height, width)


def stack_frames(frames: Any, frame_stack: int, start: int = 0, stop: int | None = None,
                 key: str = "image", motion: bool = False) -> np.ndarray:
    """Frames t in [start, stop) of an episode's uint8 [T, H, W, 1] grayscale frames, each with
    its predecessors as channels: uint8 [stop - start, H, W, 3] where channel c holds frame
    max(t - min(c, frame_stack - 1), 0). So frame_stack 1 repeats the frame (as `patchify` does
    with grayscale), 2 shows the frame and the one before it (channels t, t-1, t-1), 3 the last
    three. Frames before `start` are read, so a window cut mid-episode sees what the episode
    showed; the first frame stands in for those before the episode began. With `motion`
    (frame_stack 2) the channels are instead (t, t, 128 + (f_t - f_t-1) // 2): the frame twice
    and its change, mid-gray where nothing moved."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 1:
        raise ValueError(f"image {key!r}: frame_stack={frame_stack} stacks single-channel "
                         f"frames [T, H, W, 1], got shape {frames.shape}")
    stop = len(frames) if stop is None else stop
    if not 0 <= start <= stop <= len(frames):
        raise ValueError(f"image {key!r}: steps [{start}, {stop}) outside [0, {len(frames)}]")
    lags = np.minimum(np.arange(IMAGE_CHANNELS), frame_stack - 1)
    if motion and frame_stack != 2:
        raise ValueError(f"image {key!r}: motion needs frame_stack=2, got {frame_stack}")
    index = np.maximum(np.arange(start, stop)[:, None] - lags[None, :], 0)  # [n, 3]
    stacked = frames[index, ..., 0]  # [n, 3, H, W]
    if motion:
        change = stacked[:, 0].astype(np.int16) - stacked[:, 1].astype(np.int16)
        stacked[:, 1] = stacked[:, 0]
        stacked[:, 2] = np.clip(128 + change // 2, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(stacked.transpose(0, 2, 3, 1))


def unpatchify(patches: Any, height: int, width: int) -> np.ndarray:
    """Inverse of `patchify`: [N, 16, 16, C] patches in raster order -> [height, width, C]."""
    patches = np.asarray(patches)
    rows, cols = height // PATCH_SIZE, width // PATCH_SIZE
    if height % PATCH_SIZE or width % PATCH_SIZE or patches.shape[:3] != (
        rows * cols, PATCH_SIZE, PATCH_SIZE
    ):
        raise ValueError(
            f"cannot assemble patches of shape {patches.shape} into a {height}x{width} image"
        )
    grid = patches.reshape(rows, cols, PATCH_SIZE, PATCH_SIZE, patches.shape[-1])
    return grid.transpose(0, 2, 1, 3, 4).reshape(height, width, patches.shape[-1])


def normalize(patches: Any, dtype: Any = np.float32) -> Any:
    """uint8 pixels -> [-1, 1] / 4 = [-0.25, 0.25], as `dtype`; numpy or jax arrays, any shape."""
    return (patches.astype(dtype) * (2.0 / 255.0) - 1.0) / NORMALIZE_DIVISOR


def tokenize(image: Any, key: str = "image") -> tuple[np.ndarray, np.ndarray]:
    """Patchify then normalize: (float32 [N, 16, 16, 3] in [-0.25, 0.25], patch_pos [N, 4])."""
    patches, patch_pos = patchify(image, key)
    return normalize(patches), patch_pos
