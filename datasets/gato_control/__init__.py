"""The gato_control TFDS dataset: RLDS episodes of the control suite's tasks."""
