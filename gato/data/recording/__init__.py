"""Recording: episodes from environments -> staged shards -> TFDS RLDS datasets (gato generate)."""
