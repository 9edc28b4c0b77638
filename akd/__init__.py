"""akd: a local-first platform for durable Python automations on Temporal."""

__version__ = "0.1.0"
