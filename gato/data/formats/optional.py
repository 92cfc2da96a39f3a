"""Optional dependencies of the outside data sources, imported only when a source is read.

The default install stays lean: reading the JAT dataset needs pyarrow (extra `jat`), reading
Minari datasets needs minari and h5py (extra `minari`). `require` imports a module or raises
`MissingExtraError`, one line naming the extra to install (`gato.cli` prints it as is).
"""

import importlib
from types import ModuleType

from gato.errors import GatoError

# module -> the setup.py extra that installs it
EXTRAS = {"pyarrow": "jat", "pyarrow.parquet": "jat", "minari": "minari", "h5py": "minari"}


class MissingExtraError(GatoError, ImportError):
    """An optional dependency of a data source is not installed."""


def require(module: str, purpose: str) -> ModuleType:
    """`import module`, or MissingExtraError naming `purpose` and the extra to install."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        extra = EXTRAS.get(module, module.split(".")[0])
        raise MissingExtraError(f"{purpose} needs the Python package {module.split('.')[0]!r}, "
                                f"which is not installed: pip install 'gato-jax[{extra}]'"
                                ) from err
