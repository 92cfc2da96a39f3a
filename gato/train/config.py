"""Experiment configs: Python files `experiments/NAME.py` with `get_config(arg) -> ConfigDict`.

`load_config("experiments/NAME.py:variant")` imports the file by path (it is not a package
module) and passes the text after the colon to `get_config`, which reads it with
`parse_variant(arg, VARIANTS)`: a key the experiment does not declare, or a value of the wrong
type, is a ConfigError. `apply_overrides(config, ["train.batch_size=8", ...])` sets dotted keys;
values are parsed as Python literals when they can be (8, 1e-4, True, [("data", -1)]) and kept as
strings otherwise. Neither checks ranges: `gato.train.validate.validate_config` does, before any
work starts.
"""

import ast
import importlib.resources
import importlib.util
import pathlib
from collections.abc import Mapping, Sequence
from typing import Any

import ml_collections

from gato.errors import ConfigError


def packaged_configs() -> list[str]:
    """Names of the experiment configs shipped with the package (the repo's experiments/)."""
    try:
        folder = importlib.resources.files("gato.experiments")
    except ModuleNotFoundError:
        return []
    return sorted(f.name for f in folder.iterdir() if f.name.endswith(".py")
                  and not f.name.startswith("_"))


def config_path(path_text: str) -> pathlib.Path:
    """A config file by path, else a packaged config by name ("gato_cpu" or "gato_cpu.py")."""
    path = pathlib.Path(path_text)
    if path.is_file():
        return path
    name = path_text if path_text.endswith(".py") else f"{path_text}.py"
    if "/" not in path_text and name in packaged_configs():
        return pathlib.Path(str(importlib.resources.files("gato.experiments") / name))
    raise FileNotFoundError(f"config file {path_text!r} not found (packaged configs: "
                            f"{', '.join(packaged_configs()) or 'none'})")


def load_config(spec: str) -> ml_collections.ConfigDict:
    """Loads `path.py[:arg]` (or a packaged config by name); raises FileNotFoundError /
    ValueError naming the file."""
    path_text, _, arg = spec.partition(":")
    path = config_path(path_text)
    module_spec = importlib.util.spec_from_file_location(f"gato_experiment_{path.stem}", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    if not hasattr(module, "get_config"):
        raise ValueError(f"config file {path_text!r} defines no get_config(arg)")
    config = module.get_config(arg or None)
    if not isinstance(config, ml_collections.ConfigDict):
        raise ValueError(f"{path_text}: get_config returned {type(config).__name__}, "
                         "expected ml_collections.ConfigDict")
    return config


def parse_value(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def apply_overrides(config: ml_collections.ConfigDict,
                    overrides: Sequence[str]) -> ml_collections.ConfigDict:
    """Sets each `dotted.key=value` on `config` (in place) and returns it."""
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep:
            raise ValueError(f"override {item!r} is not of the form key=value")
        *parents, leaf = key.split(".")
        node = config
        for part in parents:
            if part not in node:
                raise KeyError(f"override {item!r}: config has no section {part!r}")
            node = node[part]
        if leaf not in node:
            raise KeyError(f"override {item!r}: config section has no key {leaf!r}")
        value = parse_value(text)
        try:
            node[leaf] = value
        except TypeError as e:
            raise ConfigError(f"override {item!r}: {key} holds {type(node[leaf]).__name__} "
                              f"values, got {type(value).__name__} {value!r}") from e
    return config


def _of_type(value: Any, kind: type) -> bool:
    if kind is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


def parse_variant(arg: str | None, known: Mapping[str, type]) -> dict[str, Any]:
    """Variant string "batch=8,local" -> {"batch": 8, "local": True}.

    `known` maps each variant key the experiment reads to its type (a bare key is True, so flags
    are `bool`). Raises ConfigError for an unknown key (a typo would otherwise be ignored) or a
    value of another type.
    """
    out: dict[str, Any] = {}
    for part in filter(None, (arg or "").split(",")):
        key, sep, text = part.partition("=")
        key = key.strip()
        if key not in known:
            raise ConfigError(f"unknown variant key {key!r} in {arg!r}; this experiment takes: "
                              + ", ".join(f"{k} ({t.__name__})" for k, t in known.items()))
        value = parse_value(text.strip()) if sep else True
        if not _of_type(value, known[key]):
            raise ConfigError(f"variant {part.strip()!r}: {key} takes a {known[key].__name__}, "
                              f"got {value!r}")
        out[key] = value
    return out
