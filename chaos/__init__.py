"""The chaos suite: a steady load through the gateway while processes, Redis and PostgreSQL are killed one
at a time, then the history is checked (nothing lost, nothing doubled). ``python -m chaos --help``."""
