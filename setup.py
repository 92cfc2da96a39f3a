"""gato-jax: a Gato-style generalist agent framework in JAX.

The PyPI name `gato` belongs to an unrelated project, so the distribution is `gato-jax`; the import
package is `gato`. Only `gato` and `gato.*` are installed: the top-level `tokenizers/` and
`datasets/` folders hold data and TFDS builders, and must not shadow Hugging Face's packages.
"""

from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent


def _requirements(name: str) -> list[str]:
    lines = (HERE / name).read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


setup(
    name="gato-jax",
    version="0.1.0",
    description=("Gato-style generalist agents in JAX: tokenizers, model, trainer, data, "
                 "evaluation."),
    python_requires=">=3.11",
    # The experiment configs of experiments/ ship as `gato.experiments`, so an installed package
    # runs `gato main` and `--config NAME` from any folder.
    packages=[*find_packages(include=["gato", "gato.*"]), "gato.experiments"],
    package_dir={"gato.experiments": "experiments"},
    package_data={"gato": ["**/*.json", "tokenizers/assets/*.model"]},
    install_requires=_requirements("requirements.txt"),
    # outside data sources, kept out of the default install (gato.data.formats.jat / .minari
    # name the extra when it is missing)
    extras_require={"test": _requirements("requirements-test.txt"),
                    "jat": ["pyarrow==26.0.1"],
                    "minari": ["minari==0.5.4", "h5py==3.16.0"]},
    entry_points={"console_scripts": ["gato=gato.cli:main"]},
)
