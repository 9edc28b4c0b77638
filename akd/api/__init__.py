"""The HTTP API's resources, one module each; ``akd.app`` mounts them."""
