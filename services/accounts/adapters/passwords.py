"""Password hashes: argon2id (pwdlib), upgraded on sign-in when the hashing parameters change."""

from __future__ import annotations

from functools import cache

from pwdlib import PasswordHash
from pwdlib.exceptions import PwdlibError
from pwdlib.hashers.argon2 import Argon2Hasher

from services.accounts.domain.model import MAX_PASSWORD_LENGTH

_password_hash = PasswordHash((Argon2Hasher(),))


def hash_password(password: str) -> str:
    return _password_hash.hash(password)


@cache
def _dummy_hash() -> str:
    # made once per process, on first use, with the same parameters as real hashes
    return _password_hash.hash("pengaduan-dummy-password-for-unknown-users")


def verify_password(password: str, password_hash: str | None) -> bool:
    """True when ``password`` matches. With no hash (unknown user) it still runs one argon2 verification
    against a dummy hash and answers False, so unknown and known users take about the same time and a
    caller cannot tell which usernames exist."""
    return verify_and_update(password, password_hash)[0]


def verify_and_update(password: str, password_hash: str | None) -> tuple[bool, str | None]:
    """(matches, new hash when the hashing parameters changed since ``password_hash`` was made)."""
    if password_hash is None or len(password) > MAX_PASSWORD_LENGTH:
        _password_hash.verify("pengaduan-dummy-password-for-unknown-users!", _dummy_hash())
        return False, None
    try:
        return _password_hash.verify_and_update(password, password_hash)
    except PwdlibError:  # a hash in an unknown format: no match, never a 500
        return False, None
