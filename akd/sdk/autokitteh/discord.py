"""``autokitteh.discord``: clients of the discord integration (see ``_integrations``)."""

from autokitteh._integrations import unconfigured

discord_client = unconfigured("discord", "discord_client")

__all__ = ["discord_client"]
