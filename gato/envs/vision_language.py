"""The vision_language suite: captions and visual question answering, no environment.

One task, "minigrid-scenes": image + text examples, the image's patches first and the loss on
the caption or answer only (`gato.tokenizers.vision_language`). Its examples come from
data.vision_language: by default the project's MiniGrid scenes with exact labels
(`gato.data.recording.scenes`, prepared by `gato.data.recording.scene_builder.build_scenes`),
or a prepared TFDS dataset of the coco_captions layout (`gato.data.formats.captions`). Like the
text suite's task it exists so that mixtures ({"vision_language": 0.25}), configs and
`gato tasks` can name it.
"""

from gato.envs.registry import Task, register

SUITE = "vision_language"

register(Task(
    name="minigrid-scenes",
    suite=SUITE,
    spec=None,
    make_env=None,
    max_episode_steps=0,
    description="MiniGrid scenes with captions and question/answer pairs (data.vision_language)",
))
