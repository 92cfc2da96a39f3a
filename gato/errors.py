"""The project's error classes: failures caused by input or by the state of files on disk.

`gato.cli` prints these (and the standard input errors in `USER_ERRORS`) as one line,
`gato COMMAND: error: MESSAGE`, and exits 1; `--debug` shows the traceback instead. Every message
names what is wrong and where (config key, file, step, task, episode), so a user can act on it
without the traceback. This module imports nothing from the project: every layer may raise these.
"""


class GatoError(Exception):
    """Base class: an error the user can fix (bad input, damaged or mismatched files)."""


class ConfigError(GatoError, ValueError):
    """An experiment config, variant or override that is unknown, mistyped or out of range."""


class CheckpointError(GatoError, RuntimeError):
    """A checkpoint that exists but cannot be used."""


class CheckpointMismatchError(CheckpointError):
    """An intact checkpoint written by a different model or optimizer than the config's."""


class DamagedCheckpointError(CheckpointError):
    """A checkpoint whose files cannot be read or whose contents fail their checksums."""

    def __init__(self, message: str, path: str = "", step: int | None = None):
        super().__init__(message)
        self.path = path
        self.step = step


class RunDirInUseError(GatoError):
    """A training workdir held by another live process (`gato.rundir.RunDir.hold`)."""


class CheckpointSpaceError(CheckpointError):
    """A checkpoint save that ran out of disk space (the partial checkpoint is removed)."""


class TrainingStopped(KeyboardInterrupt):
    """Training stopped by SIGTERM/SIGINT after saving a checkpoint, before its last step.

    A KeyboardInterrupt, so a command that chains training with more work (`gato main`, `sweep`,
    `return-study`) stops too instead of evaluating an unfinished run; `gato.cli` prints the
    message and exits 130. Rerunning the same command resumes from the checkpoint.
    """


# Exceptions printed as one line by gato.cli: the project's own, plus the standard ones that the
# commands raise for bad input (missing files, unknown names, bad values) and a diverged run.
USER_ERRORS: tuple[type[BaseException], ...] = (
    GatoError, FileNotFoundError, NotADirectoryError, PermissionError, KeyError, ValueError,
    FloatingPointError)


def message(error: BaseException) -> str:
    """One line for `error`: KeyError's text without repr quotes, newlines folded."""
    text = error.args[0] if isinstance(error, KeyError) and error.args else str(error)
    text = " ".join(str(text).split())
    return text or type(error).__name__
