"""The Model Context Protocol for coding agents: akd's API as MCP tools.

``tools`` (the table: one API call per tool), ``server`` (the MCP server over an
``Api``), ``http`` (``/mcp`` in akd's app). ``akctl mcp`` serves the same tools on stdio.
"""
