"""Workflows: the commands that chain generation, training and evaluation (`gato main`,
`gato train`, `gato sweep`, `gato return-study`), each a short driver over the same start-up,
generation and evaluate-a-checkpoint steps (`gato.workflows.common`). The top layer: it may
import every other package; nothing imports it."""
