"""gato_atari: expert episodes of every atari task in the RLDS layout, one config per task.

Build (the `tfds` CLI needs TensorFlow, so use the project's equivalent):
    python -m gato.data.generate --suite atari --episodes 100 --data-dir ~/tensorflow_datasets
or from Python:
    GatoAtari(config="TASK", data_dir=DIR, episodes=100, workers=8).download_and_prepare()
Read: `gato.data.rlds.load_episodes("TASK", DIR)`.
"""

from gato.data import builder


class GatoAtari(builder.GatoEpisodeBuilder):
    """RLDS episodes of the atari suite, rolled out by the project's scripted experts."""

    name = "gato_atari"
    suite = "atari"
    BUILDER_CONFIGS = builder.task_configs("atari")
