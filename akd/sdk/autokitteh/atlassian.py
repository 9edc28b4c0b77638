"""``autokitteh.atlassian``: clients of the atlassian integration (see ``_integrations``)."""

from autokitteh._integrations import unconfigured

atlassian_jira_client = unconfigured("atlassian", "atlassian_jira_client")
atlassian_confluence_client = unconfigured("atlassian", "atlassian_confluence_client")
jira_client = unconfigured("atlassian", "jira_client")
confluence_client = unconfigured("atlassian", "confluence_client")

__all__ = ["atlassian_confluence_client", "atlassian_jira_client", "confluence_client", "jira_client"]
