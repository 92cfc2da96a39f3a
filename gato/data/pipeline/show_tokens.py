"""`gato tokenize`: tokenize the default data and print what the tokenizers made.

    gato tokenize [--document 0] [--steps 2]

Shows a document of the default text corpus (ids, round trip, counts), a rendered dm_control
cartpole frame cut into patches, and cartpole timesteps laid out as tokens.
"""

import argparse
import os

import numpy as np

from gato.data.formats import text_corpus
from gato.tokenizers import continuous, image, sequence
from gato.tokenizers.sequence import Modality
from gato.tokenizers.spec import TimestepSpec
from gato.tokenizers.text import TextTokenizer
from gato.tokenizers.timestep import detokenize_action, tokenize_timestep

CARTPOLE_SPEC = TimestepSpec(
    observation={"position": "continuous", "velocity": "continuous"},
    action_kind="continuous",
    action_shape=(1,),
    action_minimum=-1.0,
    action_maximum=1.0,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--document", type=int, default=0, help="index of the corpus document")
    parser.add_argument("--chars", type=int, default=300, help="characters of it to tokenize")
    parser.add_argument("--steps", type=int, default=2, help="cartpole timesteps to tokenize")
    parser.add_argument("--size", type=int, default=64, help="rendered frame side, pixels")


def show_text(index: int, chars: int) -> None:
    documents = text_corpus.load_documents()
    tokenizer = TextTokenizer()
    text = documents[index % len(documents)][:chars]
    ids = tokenizer.encode(text)
    print(f"== text: document {index} of {len(documents)} ({tokenizer.model_path.name})")
    print(repr(text))
    print(f"ids ({len(ids)} tokens for {len(text)} chars): {ids.tolist()}")
    print(f"pieces: {[tokenizer.id_to_piece(i) for i in ids[:24]]}")
    print(f"round trip exact: {tokenizer.decode(ids) == text}")
    seq = tokenizer.tokenize_document(text)
    print(f"document sequence: {sequence.length(seq)} tokens (ends with EOS {seq['tokens'][-1]}), "
          f"loss on {int(seq['loss_mask'].sum())}")


def render_frame(size: int) -> np.ndarray:
    """A cartpole frame uint8 [size, size, 3], or a synthetic gradient if rendering fails."""
    os.environ.setdefault("MUJOCO_GL", "osmesa")
    try:
        from dm_control import suite

        return suite.load("cartpole", "swingup").physics.render(size, size)
    except Exception as error:  # rendering backends fail in many ways; the demo goes on
        print(f"warning: rendering failed ({error!r}); using a synthetic image")
        ramp = np.linspace(0, 255, size, dtype=np.float64)
        return np.stack(np.broadcast_arrays(ramp[:, None], ramp[None, :], 128.0), -1).astype(
            np.uint8)


def show_image(size: int) -> None:
    frame = render_frame(size)
    patches, patch_pos = image.patchify(frame, key="pixels")
    normalized = image.normalize(patches)
    print(f"\n== image: frame {frame.shape} {frame.dtype} -> patches {patches.shape}")
    for k in (0, 1, len(patches) - 1):
        print(f"patch {k}: pos (row_lo, row_hi, col_lo, col_hi) = {patch_pos[k].tolist()}, "
              f"mean pixel {patches[k].mean():.1f}")
    print(f"normalized range [{normalized.min():.3f}, {normalized.max():.3f}]; "
          f"unpatchify exact: {np.array_equal(image.unpatchify(patches, *frame.shape[:2]), frame)}")


def show_timesteps(steps: int) -> None:
    from dm_control import suite

    env = suite.load("cartpole", "swingup", task_kwargs={"random": 0})
    timestep = env.reset()
    rng = np.random.default_rng(0)
    print(f"\n== cartpole timesteps with spec {dict(CARTPOLE_SPEC.observation)}, continuous action")
    for t in range(steps):
        action = rng.uniform(-1, 1, size=(1,))
        seq = tokenize_timestep(CARTPOLE_SPEC, dict(timestep.observation), action)
        observation = {k: v.round(3).tolist() for k, v in timestep.observation.items()}
        print(f"step {t}: observation {observation}, action {action.round(4).tolist()}")
        print(f"  tokens    {seq['tokens'].tolist()}")
        print(f"  modality  {[Modality(m).name for m in seq['modality']]}")
        print(f"  loss_mask {seq['loss_mask'].astype(int).tolist()}")
        print(f"  local_pos {seq['local_pos'].tolist()}")
        obs_ids = seq["tokens"][: -CARTPOLE_SPEC.action_size - 1]
        decoded = continuous.detokenize(obs_ids, obs_ids.shape).astype(np.float64)
        decoded_action = detokenize_action(CARTPOLE_SPEC, seq["tokens"][-1:]).astype(np.float64)
        print(f"  decoded observation {decoded.round(3).tolist()}, "
              f"decoded action {decoded_action.round(4).tolist()}")
        timestep = env.step(action)


def run(args: argparse.Namespace) -> int:
    show_text(args.document, args.chars)
    show_image(args.size)
    show_timesteps(args.steps)
    return 0
