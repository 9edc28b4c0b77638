"""The runner side: the process that runs user code (never imports the daemon's internals)."""
