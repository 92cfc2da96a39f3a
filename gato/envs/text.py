"""The text suite: language modelling on documents, no environment.

The documents come from `gato.data.formats.text_corpus`; the task exists so that mixtures, configs
and `gato tasks` can name it like any other task.
"""

from gato.envs.registry import Task, register

register(Task(
    name="pydocs",
    suite="text",
    spec=None,
    make_env=None,
    max_episode_steps=0,
    description="Python documentation text (gato.data.formats.text_corpus), next-token prediction",
))
