"""The project's TFDS datasets: `gato_control`, `gato_atari` and `gato_babyai`, one
BuilderConfig per task.

Importing this module registers them with TFDS, so `tfds.builder("gato_control/cartpole-swingup",
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


class GatoBabyAI(builder.GatoEpisodeBuilder):
    """RLDS episodes of the BabyAI default levels (mission text, 7x7 symbolic view, direction),
    rolled out by minigrid's BabyAIBot."""

    name = "gato_babyai"
    suite = "babyai"
    BUILDER_CONFIGS = builder.task_configs("babyai")


class GatoMetaWorld(builder.GatoEpisodeBuilder):
    """RLDS episodes of Meta-World's 50 tasks (39 floats, 4 continuous actions), rolled out by
    metaworld's scripted policies."""

    name = "gato_metaworld"
    suite = "metaworld"
    BUILDER_CONFIGS = builder.task_configs("metaworld")


BUILDERS: dict[str, type[builder.GatoEpisodeBuilder]] = {"control": GatoControl,
                                                         "atari": GatoAtari,
                                                         "babyai": GatoBabyAI,
                                                         "metaworld": GatoMetaWorld}
