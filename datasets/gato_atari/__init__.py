"""The gato_atari TFDS dataset: RLDS episodes of the atari suite's tasks."""
