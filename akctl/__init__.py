"""akctl: the command-line client of akd (talks to the daemon over HTTP only)."""
