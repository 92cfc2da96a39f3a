"""Experiment configs, one file per experiment (`get_config(arg) -> ConfigDict`), shipped with
the package as `gato.experiments` so `--config NAME` works from any folder."""
