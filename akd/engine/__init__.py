"""The Temporal side: session workflow, segment activities, worker, runner processes."""
