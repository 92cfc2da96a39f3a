"""A registry of training data sources, chosen by `config.data.source`.

Every factory has the signature
    make_iterator(data_config, *, batch_size, seq_len, seed, process_index, process_count)
where `batch_size` is per host, and returns an iterator that yields batches (dicts of numpy arrays:
the TokenSequence fields [B, L, ...] plus task_id int32 [B]) and has `get_state() -> dict`
(JSON-serializable) and `set_state(state)` for checkpoints. Factories are "module:function"
strings, imported only when used, so importing this module stays cheap.
"""

import importlib
from collections.abc import Callable
from typing import Any

SOURCES: dict[str, str] = {
    "synthetic": "gato.data.pipeline.synthetic:make_iterator",
    "mixture": "gato.data.pipeline.loader:make_iterator",
}


def register(name: str, target: str) -> None:
    """Registers a factory under `name`; `target` is "module:function"."""
    if ":" not in target:
        raise ValueError(f"source target must be 'module:function', got {target!r}")
    SOURCES[name] = target


def resolve(target: str) -> Callable[..., Any]:
    """Imports "module:function" and returns the function."""
    module_name, _, attr = target.partition(":")
    module = importlib.import_module(module_name)
    try:
        return getattr(module, attr)
    except AttributeError as e:
        raise ValueError(f"{module_name!r} has no function {attr!r}") from e


def make_iterator(data_config: Any, *, batch_size: int, seq_len: int, seed: int,
                  process_index: int = 0, process_count: int = 1) -> Any:
    """Builds the iterator of the source named by `data_config.source` for this host."""
    name = data_config.source
    if name not in SOURCES:
        raise ValueError(
            f"unknown data source {name!r} (config key data.source); "
            f"registered: {sorted(SOURCES)}"
        )
    factory = resolve(SOURCES[name])
    iterator = factory(data_config, batch_size=batch_size, seq_len=seq_len, seed=seed,
                       process_index=process_index, process_count=process_count)
    for method in ("get_state", "set_state"):
        if not callable(getattr(iterator, method, None)):
            raise TypeError(f"data source {name!r} returned an iterator without {method}()")
    return iterator
