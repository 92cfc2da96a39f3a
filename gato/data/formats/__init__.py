"""Dataset formats: the Episode layout; readers of RLDS, RL Unplugged, TFRecord, text corpora, the
JAT dataset (`jat`, extra `jat`) and Minari datasets (`minari`, extra `minari`)."""

from gato.data.formats.load import load_episodes, load_text_documents

__all__ = ["load_episodes", "load_text_documents"]
