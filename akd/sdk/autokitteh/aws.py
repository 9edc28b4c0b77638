"""``autokitteh.aws``: clients of the aws integration (see ``_integrations``)."""

from autokitteh._integrations import unconfigured

boto3_client = unconfigured("aws", "boto3_client")

__all__ = ["boto3_client"]
