"""RAM-reading scripted players for Atari games (filled in with the Atari suite)."""

EXPERTS: dict = {}
