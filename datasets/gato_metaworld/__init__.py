"""The gato_metaworld TFDS dataset: RLDS episodes of Meta-World's tasks."""
