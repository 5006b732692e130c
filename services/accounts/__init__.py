"""Accounts: the users who sign in (kecamatan staff, kabupaten watchers, administrators), their passwords and
where notify reaches them; the sign-in that turns a password into a bearer token.

- ``domain/model.py``: what a user is and the rules for a new user or password (pure);
- ``adapters/tables.py``: ``tenancy.users``, accounts' own; ``adapters/passwords.py``: argon2 hashes;
  ``adapters/throttle.py``: failed sign-ins counted in Redis; ``adapters/sessions.py``: sign-outs and users'
  changes told to every replica's token guard;
- ``handlers.py``: add a user, check a password, (de)activate, a new password, list, contact details;
- ``demo.py``: the demo users of ``pengaduan seed-demo`` (never in production);
- ``entrypoints/api.py``: ``router`` (``/v1/auth/token``, ``/v1/auth/me``, ``/v1/auth/logout``), reading the
  container from ``app.state.accounts``; served by the workflow API's process (``pengaduan/apps.py``);
- ``config.py``: ``AccountsSettings``; ``bootstrap.py``: the container (``Accounts``), built when a process asks.

Other services read users only through ``shared/contracts/accounts.py`` (the view ``tenancy.staff_directory``),
and check tokens with ``shared.auth``, which needs nothing from here.
"""
