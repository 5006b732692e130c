"""Development tools: stand-ins for outside systems, for ``make run``, tests, benchmarks and the chaos
suite. Never used by a production process; nothing in ``services/`` or ``shared/`` imports them."""
