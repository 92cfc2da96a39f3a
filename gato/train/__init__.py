"""Data-parallel, multi-host training: config loading, optimizer, mesh, checkpoints, the loop."""

from gato.train.step import TrainState, make_train_step

__all__ = ["TrainState", "make_train_step", "train_and_evaluate"]


def train_and_evaluate(config, workdir):
    """Lazy re-export of gato.train.loop.train_and_evaluate (keeps `import gato.train` light)."""
    from gato.train.loop import train_and_evaluate as run

    return run(config, workdir)
