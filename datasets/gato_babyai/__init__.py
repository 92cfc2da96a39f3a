"""The gato_babyai TFDS dataset: RLDS episodes of the BabyAI default levels."""
