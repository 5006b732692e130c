"""Write the secret files docker-compose.yml mounts as Docker secrets, generated and consistent with each other.

    python deploy/make_secrets.py [--dir secrets] [--self-signed-tls localhost]

Creates, in a folder only its owner can open (0700), each file read-only (0444: compose without Swarm mounts
the host file as it is, and the application runs as uid 10001):

    pengaduan_secret_key          48 random bytes, URL-safe (signs tokens and sessions)
    pengaduan_privacy_keys        the key-encryption keys wrapping each complaint's data key (docs/adr/0017):
                                  {"current": id, "keys": {id: base64 of 32 random bytes}}; keep a copy apart
                                  from the database's backups (without it no complainant's data can be read)
    postgres_password             the database user's password (POSTGRES_PASSWORD_FILE)
    pengaduan_database_url        postgresql+psycopg://pengaduan:<that password>@postgres:5432/pengaduan
    redis_users.acl               Redis's ACL file: the default user with the SHA-256 of a random password
    pengaduan_redis_url           redis://:<that password>@redis:6379/0
    minio_root_user / minio_root_password, pengaduan_document_store_url (the bucket in the compose MinIO)

and an empty folder ``integrations`` (0755, inside the 0700 one) for the credentials of the outside systems the
kabupaten connects, which the operator writes there, one ``pengaduan_<setting>`` file each, 0444 (docker-compose.yml
mounts the folder whole at /run/secrets/integrations; README "Production deployment").

An existing file is never overwritten (a second run adds only what is missing), so the passwords a running
database or Redis already has stay as they are. The TLS certificate chain and key (tls_certificate.pem,
tls_private_key.pem) are the operator's; --self-signed-tls HOST makes a throwaway pair for a local trial with
the openssl command. Standard library only: it runs before anything is installed.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

DB_USER = "pengaduan"
DB_NAME = "pengaduan"
BUCKET = "pengaduan-documents"
INTEGRATIONS = "integrations"  # the outside systems' credentials (shared/config.py INTEGRATIONS_SUBDIR)
FILES = (
    "pengaduan_secret_key",
    "pengaduan_privacy_keys",
    "postgres_password",
    "pengaduan_database_url",
    "redis_users.acl",
    "pengaduan_redis_url",
    "minio_root_user",
    "minio_root_password",
    "pengaduan_document_store_url",
)


def _token() -> str:
    # URL-safe alphabet, so it can sit in a URL as it is (quote() below is for safety only)
    return secrets.token_urlsafe(32)


def _read_or(folder: Path, name: str, make) -> str:
    path = folder / name
    if path.exists():
        return path.read_text().strip()
    value = make()
    _write(path, value)
    return value


def _write(path: Path, value: str) -> None:
    if path.exists():
        return
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value)  # no newline: every reader takes the file as it is
    os.chmod(path, 0o444)
    print(f"wrote {path}")


def _privacy_keys() -> str:
    """As ``pengaduan privacy new-key`` writes them (shared/privacy.py), with the standard library only."""
    import base64
    import json
    from datetime import UTC, datetime

    kid = datetime.now(UTC).strftime("%Y%m%d")
    return json.dumps({"current": kid, "keys": {kid: base64.b64encode(secrets.token_bytes(32)).decode()}})


def redis_acl_line(password: str) -> str:
    """Redis ACL rule for the default user: every command and key, with this password stored as its hash."""
    return f"user default on #{hashlib.sha256(password.encode()).hexdigest()} ~* &* +@all"


def make_secrets(folder: Path) -> dict[str, str]:
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    integrations = folder / INTEGRATIONS
    if not integrations.is_dir():  # compose mounts it whole: it must exist, even empty (podman refuses otherwise)
        integrations.mkdir()
        print(f"made {integrations}/ (the outside systems' credentials: empty until the kabupaten connects one)")
    # the application (uid 10001) lists it (every process reads its settings there at start: one it cannot list
    # stops them all); the 0700 folder around it hides it from the host's other users. Set again on every run.
    os.chmod(integrations, 0o755)  # noqa: S103
    out = {"pengaduan_secret_key": _read_or(folder, "pengaduan_secret_key", lambda: secrets.token_urlsafe(48))}
    out["pengaduan_privacy_keys"] = _read_or(folder, "pengaduan_privacy_keys", _privacy_keys)

    pg = _read_or(folder, "postgres_password", _token)
    out["postgres_password"] = pg
    out["pengaduan_database_url"] = _read_or(
        folder,
        "pengaduan_database_url",
        lambda: f"postgresql+psycopg://{DB_USER}:{quote(pg, safe='')}@postgres:5432/{DB_NAME}",
    )

    redis_password = _token()
    if (folder / "pengaduan_redis_url").exists() != (folder / "redis_users.acl").exists():
        sys.exit("redis_users.acl and pengaduan_redis_url go together: remove both to make a new pair")
    out["redis_users.acl"] = _read_or(folder, "redis_users.acl", lambda: redis_acl_line(redis_password))
    out["pengaduan_redis_url"] = _read_or(
        folder, "pengaduan_redis_url", lambda: f"redis://:{quote(redis_password, safe='')}@redis:6379/0"
    )

    user = _read_or(folder, "minio_root_user", lambda: "pengaduan-" + secrets.token_hex(4))
    password = _read_or(folder, "minio_root_password", _token)
    out["minio_root_user"], out["minio_root_password"] = user, password
    out["pengaduan_document_store_url"] = _read_or(
        folder,
        "pengaduan_document_store_url",
        lambda: (
            f"s3://{BUCKET}?endpoint=http://minio:9000&access_key={quote(user, safe='')}"
            f"&secret_key={quote(password, safe='')}&create=1"
        ),
    )
    return out


def self_signed_tls(folder: Path, host: str) -> None:
    cert, key = folder / "tls_certificate.pem", folder / "tls_private_key.pem"
    if cert.exists() or key.exists():
        return
    if not shutil.which("openssl"):
        sys.exit("--self-signed-tls needs the openssl command")
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "30",
            "-subj",
            f"/CN={host}",
            "-addext",
            f"subjectAltName=DNS:{host}",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    os.chmod(cert, 0o444)
    os.chmod(key, 0o444)
    print(f"wrote {cert} and {key} (self-signed for {host}, 30 days: a local trial only)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--dir",
        default=str(Path(__file__).resolve().parent.parent / "secrets"),
        help="where to write (default: secrets/ next to docker-compose.yml)",
    )
    parser.add_argument("--self-signed-tls", metavar="HOST", help="also a throwaway TLS pair for HOST")
    args = parser.parse_args(argv)
    folder = Path(args.dir)
    make_secrets(folder)
    if args.self_signed_tls:
        self_signed_tls(folder, args.self_signed_tls)


if __name__ == "__main__":
    main()
