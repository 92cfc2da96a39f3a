"""gato_metaworld: the TFDS builder of the project's Meta-World episodes, for the `tfds` tooling.

The builder ships inside the installed package (`gato.data.recording.builders`); this folder is
its public TFDS entry. Build with `gato generate --suite metaworld --data-dir DIR` (the `tfds
build` CLI needs TensorFlow, which the project does not install).
"""

from gato.data.recording.builders import GatoMetaWorld

__all__ = ["GatoMetaWorld"]
