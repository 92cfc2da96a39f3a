"""Test fixtures kept in the package (as acme does): fakes, tiny configs and runners per layer."""
