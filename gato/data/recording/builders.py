"""The project's TFDS datasets: `gato_control` and `gato_atari`, one BuilderConfig per task.

Importing this module registers both with TFDS, so `tfds.builder("gato_control/cartpole-swingup",
data_dir=DIR)` finds them. Build with `gato generate` (the `tfds build` CLI needs TensorFlow):

    gato generate --suite control --episodes 100 --workers 8 --data-dir DIR

or from Python: `GatoControl(config="TASK", data_dir=DIR, episodes=100).download_and_prepare()`.
Read with `gato.data.formats.load_episodes("TASK", DIR)`.
"""

from gato.data.recording import builder


class GatoControl(builder.GatoEpisodeBuilder):
    """RLDS episodes of the control suite, rolled out by the project's scripted experts."""

    name = "gato_control"
    suite = "control"
    BUILDER_CONFIGS = builder.task_configs("control")


class GatoAtari(builder.GatoEpisodeBuilder):
    """RLDS episodes of the atari suite, rolled out by the project's scripted experts."""

    name = "gato_atari"
    suite = "atari"
    BUILDER_CONFIGS = builder.task_configs("atari")


BUILDERS: dict[str, type[builder.GatoEpisodeBuilder]] = {"control": GatoControl,
                                                         "atari": GatoAtari}
