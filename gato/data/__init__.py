"""Data below the trainer, in three wings: `recording` (episodes from environments -> staged shards
-> TFDS RLDS datasets, `gato generate`), `formats` (reading RLDS, RL Unplugged, TFRecord and text
corpora as numpy) and `pipeline` (episodes and documents -> windows -> task mixture -> batches)."""
