"""gato_control: expert episodes of every control task in the RLDS layout, one config per task.

Build (the `tfds` CLI needs TensorFlow, so use the project's equivalent):
    python -m gato.data.generate --suite control --episodes 100 --data-dir ~/tensorflow_datasets
or from Python:
    GatoControl(config="TASK", data_dir=DIR, episodes=100, workers=8).download_and_prepare()
Read: `gato.data.rlds.load_episodes("TASK", DIR)`.
"""

from gato.data import builder


class GatoControl(builder.GatoEpisodeBuilder):
    """RLDS episodes of the control suite, rolled out by the project's scripted experts."""

    name = "gato_control"
    suite = "control"
    BUILDER_CONFIGS = builder.task_configs("control")
