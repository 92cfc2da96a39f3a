"""Resolves a data config to per-task data: the registry's tasks, their RLDS episodes, the text.

Control and Atari tasks read their episodes with `gato.data.formats.load_episodes(task, data_dir,
split)` (random access, nothing loaded up front). Text tasks share one packed corpus: the documents
of data_config.text ("pydocs": `gato.data.formats.text_corpus`, its deterministic train/validation
split; otherwise a prepared TFDS text dataset read by `gato.data.formats.load_text_documents`),
tokenized with the default SentencePiece model and cut into seq_len chunks. Vision-language tasks
pack image-text examples of data.vision_language into windows (`image_text`). With data.returns
enabled a task's spec carries its return tokens, with data.frame_stack > 1 its stacked frames
(`gato.envs.specs.task_spec`); with
data.filter.top_fraction < 1 a task keeps only its best episodes (`filtering`, %BC).
Outside data: "jat/<config>" tasks (registered in `gato.envs.datasets`) read a local JAT copy under
data_dir; "minari/<id>" tasks in data.tasks are registered here from the local Minari dataset's
spaces before the selection (`gato.data.formats.minari.register_named`).
"""

from collections.abc import Mapping
from typing import Any

from gato.data.pipeline.examples import TaskData
from gato.data.pipeline.windows import TextChunks


def _weight(weights: Mapping[str, Any] | None, key: str) -> float:
    return float((weights or {}).get(key, 1.0))


def load_text_documents(name: str, split: str, data_dir: str | None = None,
                        max_documents: int | None = None) -> list[str]:
    """Documents of corpus `name` for `split` ("train" or anything else = validation)."""
    if name == "pydocs":
        from gato.data.formats import text_corpus

        train, validation = text_corpus.split(text_corpus.load_documents())
        documents = train if split == "train" else validation
    else:
        from gato.data import formats

        source = formats.load_text_documents(name, data_dir, split)
        n = len(source) if max_documents is None else min(len(source), int(max_documents))
        documents = [source[i] for i in range(n)]
    return documents if max_documents is None else documents[: int(max_documents)]


def text_chunks(documents: list[str], seq_len: int) -> TextChunks:
    """Documents tokenized (text tokenizer's tokenize_document: ids + EOS) and packed."""
    from gato.tokenizers.text import default_tokenizer

    tokenizer = default_tokenizer()
    return TextChunks([tokenizer.tokenize_document(d) for d in documents], seq_len)


def selected_tasks(data_config: Any) -> list[Any]:
    """The registry Tasks a data section trains on: selected by suites and tasks, with a
    positive suite and task weight (zero-weight tasks are not read)."""
    from gato.data.formats import minari
    from gato.envs import registry

    minari.register_named(data_config.tasks or None)
    tasks = registry.select(data_config.suites or None, data_config.tasks or None)
    return [t for t in tasks if _weight(data_config.mixture, t.suite) > 0
            and _weight(data_config.task_weights, t.name) > 0]


def resolve_tasks(data_config: Any, seq_len: int) -> list[TaskData]:
    """TaskData for every selected task with a positive weight (zero-weight tasks are not read)."""
    from gato.data import formats
    from gato.data.formats.manifest import manifest_of
    from gato.data.pipeline import filtering
    from gato.envs import specs

    split = data_config.split
    data_dir = data_config.data_dir
    tasks = selected_tasks(data_config)
    if not tasks:
        raise ValueError("every selected task has mixture weight 0 "
                         "(data.mixture, data.task_weights)")
    chunks = None
    resolved = []
    for task in tasks:
        if task.suite == "vision_language":  # image-text windows (gato.data.pipeline.image_text)
            from gato.data.pipeline.image_text import image_text_task

            resolved.append(image_text_task(task.name, data_config, seq_len))
        elif task.spec is None:
            if chunks is None:
                documents = load_text_documents(data_config.text, split, data_dir,
                                                data_config.text_max_documents)
                chunks = text_chunks(documents, seq_len)
            resolved.append(TaskData(task.name, task.suite, chunks=chunks,
                                     where=f"text corpus {data_config.text!r}"))
        else:
            episodes = formats.load_episodes(task.name, data_dir, split)
            fraction = float(data_config.filter.top_fraction)
            episodes = filtering.filter_top(episodes, fraction, manifest_of(episodes))
            spec = specs.task_spec(task, data_config)
            resolved.append(TaskData(task.name, task.suite, spec=spec, episodes=episodes,
                                     where=f"data_dir {data_dir}, split {split!r}",
                                     max_episodes=data_config.max_episodes))
    return resolved
