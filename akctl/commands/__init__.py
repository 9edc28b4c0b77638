"""One module per command group; each has ``register(cli)``."""
