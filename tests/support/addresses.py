"""Client addresses for tests of per-address limits: never the same twice in one test run.

The limits count per address in Redis for a minute or more, so two tests drawing the same address by chance
share a count and one of them sees 429 too early (CI failed so when addresses were drawn at random from 250).
Each call takes the next address of 10.0.0.0/8 from a counter that starts at a random place, so runs that
share a Redis within a window do not meet either."""

from __future__ import annotations

import ipaddress
import itertools
import secrets

_NETWORK = ipaddress.ip_network("10.0.0.0/8")
_next = itertools.count(secrets.randbelow(_NETWORK.num_addresses // 2) + 1)


def unique_address() -> str:
    """A client address no other call in this process has returned."""
    return str(_NETWORK[next(_next)])
