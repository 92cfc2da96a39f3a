"""gato_babyai: the TFDS builder of the project's BabyAI episodes, for the `tfds` tooling.

The builder ships inside the installed package (`gato.data.recording.builders`); this folder is
its public TFDS entry. Build with `gato generate --suite babyai --data-dir DIR` (the `tfds build`
CLI needs TensorFlow, which the project does not install). Each step's observation holds the
mission as text, the 7x7x3 symbolic view and the direction.
"""

from gato.data.recording.builders import GatoBabyAI

__all__ = ["GatoBabyAI"]
