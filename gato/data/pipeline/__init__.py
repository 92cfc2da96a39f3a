"""The training input pipeline: episodes and documents -> windows -> task mixture -> batches."""
