"""Experiment configs: one set of defaults (`defaults`), loading and overrides (`load`), and the
rules a value follows (`rules`). Below every other layer: it imports nothing else of gato's but
`gato.errors`."""

from gato.config.defaults import RULES, default_config, section
from gato.config.load import (
    apply_overrides,
    complete,
    config_path,
    load_config,
    packaged_configs,
    parse_value,
    parse_variant,
    run_config,
    unknown_keys,
)

__all__ = ["RULES", "apply_overrides", "complete", "config_path", "default_config",
           "load_config", "packaged_configs", "parse_value", "parse_variant", "run_config",
           "section", "unknown_keys"]
