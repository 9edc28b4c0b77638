"""``autokitteh.twilio``: clients of the twilio integration (see ``_integrations``)."""

from autokitteh._integrations import unconfigured

twilio_client = unconfigured("twilio", "twilio_client")

__all__ = ["twilio_client"]
