"""``pengaduan integrations`` (docs/adr/0033): what an operator runs after writing ``.env`` and
``secrets/integrations/`` to see which outside systems a process's settings connect and where each credential was
read from, with no secret's value in the output."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pengaduan import cli
from tests.support.scripts import load_script

ROOT = Path(__file__).resolve().parents[2]
make_secrets = load_script(ROOT / "deploy" / "make_secrets.py")  # a script, run before anything is installed


@pytest.fixture
def clean(monkeypatch, tmp_path):
    for key in [k for k in os.environ if k.startswith("PENGADUAN_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("PENGADUAN_ENVIRONMENT", "test")
    monkeypatch.setenv("PENGADUAN_SECRETS_DIR", str(tmp_path / "secrets"))
    return tmp_path


def _run(capsys) -> tuple[int, dict[str, tuple[str, str]]]:
    code, rows, _ = _run_raw(capsys)
    return code, rows


def _run_raw(capsys) -> tuple[int, dict[str, tuple[str, str]], str]:
    code = 0
    try:
        cli.main(["integrations"])
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    head, *lines = captured.out.splitlines()
    assert head.startswith("outside systems as this process reads its settings")
    rows = {}
    for line in lines:  # system, state and detail, in columns two spaces apart
        system, state, *detail = [part.strip() for part in line.split("  ") if part.strip()]
        rows[system] = (state, "  ".join(detail))
    return code, rows, captured.out + captured.err


def test_nothing_connected_says_so_for_each_system(clean, capsys):
    code, rows = _run(capsys)
    assert code == 0
    assert {state for state, _ in rows.values()} == {"off"}
    assert set(rows) == {
        "e-mail out (SMTP)",
        "SMS out",
        "WhatsApp out",
        "SMS in (POST /v1/channels/sms)",
        "e-mail in (POST /v1/channels/email)",
        "e-mail in (IMAP mailbox)",
        "WhatsApp in (POST /v1/channels/whatsapp)",
        "WhatsApp handshake (GET)",
        "LAPOR! hand-over (POST /v1/channels/lapor)",
        "timestamp authority",
        "BSrE (e-signature)",
        "SP4N-LAPOR! bridge",
    }
    assert "PAdES B-B" in rows["timestamp authority"][1]


def test_each_credential_is_named_by_where_it_was_read_and_never_shown(clean, capsys, monkeypatch):
    folder = clean / "secrets"
    make_secrets.make_secrets(folder)
    capsys.readouterr()  # what make_secrets printed
    integrations = folder / "integrations"
    secrets = {
        "smtp_password": "sandi-smtp-rahasia",
        "bsre_username": "klien-pamekasan",
        "bsre_password": "sandi-bsre-rahasia",
        "lapor_token": "token-lapor-rahasia",
        "lapor_webhook_token": "w" * 40,
        "sms_webhook_token": "token-sms-masuk-rahasia",
    }
    for field, value in secrets.items():
        (integrations / f"pengaduan_{field}").write_text(value + "\n")
    ca = clean / "bsre-ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    for key, value in {
        "SMTP_HOST": "smtp.pamekasankab.go.id",
        "SMTP_PORT": "587",
        "SMTP_SECURITY": "starttls",
        "SMTP_USERNAME": "pengaduan@pamekasankab.go.id",
        "SMS_PROVIDER": "http",
        "SMS_URL": "https://kunci:rahasia-di-url@sms.example.id/kirim?apikey=rahasia-di-query",
        "SMS_AUTH": "bearer",
        "SMS_TOKEN": "token-sms-keluar-rahasia",
        "BSRE_URL": "https://esign.pamekasankab.go.id",
        "BSRE_CA_FILE": str(ca),
        "TSA_URL": "https://tsa.example.go.id/tsa",
        "TSA_CA_FILE": str(clean / "missing.pem"),
        "LAPOR_URL": "https://api.lapor.example.id",
        "LAPOR_INSTANSI": '{"pegantenan": "12345", "pakong": "12346"}',
        "LAPOR_INTAKE_URL": "http://intake-api:8000",
    }.items():
        monkeypatch.setenv(f"PENGADUAN_{key}", value)
    code, rows, raw = _run_raw(capsys)
    assert code == 0
    state, email = rows["e-mail out (SMTP)"]
    assert state == "on" and "smtp.pamekasankab.go.id:587 starttls" in email
    assert "smtp_username: PENGADUAN_SMTP_USERNAME (environment)" in email
    assert f"smtp_password: {integrations / 'pengaduan_smtp_password'}" in email
    state, sms = rows["SMS out"]
    assert state == "on" and "(a URL that carries credentials: not shown)" in sms
    assert "sms_token: PENGADUAN_SMS_TOKEN (environment)" in sms
    assert rows["SMS in (POST /v1/channels/sms)"][0] == "on"
    assert rows["e-mail in (POST /v1/channels/email)"][0] == "off"
    assert rows["LAPOR! hand-over (POST /v1/channels/lapor)"][0] == "on"
    state, bsre = rows["BSrE (e-signature)"]
    assert state == "on" and f"CA file {ca};" in bsre and str(integrations / "pengaduan_bsre_password") in bsre
    assert "MISSING" in rows["timestamp authority"][1]  # a CA file named that is not there
    state, lapor = rows["SP4N-LAPOR! bridge"]
    assert state == "on" and "2 kecamatan mapped" in lapor and "http://intake-api:8000" in lapor
    for value in [*secrets.values(), "token-sms-keluar-rahasia", "rahasia-di-url", "rahasia-di-query", "kunci"]:
        assert value not in raw


def test_a_service_refusing_its_settings_is_said_by_the_settings_name(clean, capsys, monkeypatch):
    monkeypatch.setenv("PENGADUAN_BSRE_URL", "https://esign.example.go.id")  # without its client id and secret
    monkeypatch.setenv("PENGADUAN_LAPOR_INSTANSI", "{bukan json")
    monkeypatch.setenv("PENGADUAN_SMS_PROVIDER", "zenziva")  # without its keys: the notify worker would not start
    code, rows, raw = _run_raw(capsys)
    assert code == 1
    state, why = rows["letters's settings"]
    assert state == "refused" and "PENGADUAN_BSRE_USERNAME" in why
    assert rows["notify's channels"] == (
        "refused",
        "the zenziva SMS provider needs PENGADUAN_ZENZIVA_USERKEY and PENGADUAN_ZENZIVA_PASSKEY",
    )
    assert rows["lapor's settings"][0] == "refused" and "lapor_instansi" in rows["lapor's settings"][1]
    assert "bukan json" not in raw and "Traceback" not in raw
    # intake reads the same map (refused too): each service after a refusing one is still looked at
    assert rows["intake's settings"][0] == "refused"


def test_where_a_value_comes_from_as_the_settings_read_it(clean, capsys, monkeypatch):
    """The secrets folder's own file wins over the integrations folder's; names match in any case; an empty variable
    in the environment hides a file (the .env trap) and is said so; a URL nobody can read is not shown."""
    folder = clean / "secrets"
    make_secrets.make_secrets(folder)
    capsys.readouterr()
    (folder / "integrations" / "pengaduan_sms_webhook_token").write_text("dari-folder-integrasi")
    (folder / "pengaduan_sms_webhook_token").write_text("dari-folder-rahasia")
    (folder / "integrations" / "PENGADUAN_EMAIL_WEBHOOK_TOKEN").write_text("huruf-besar")
    (folder / "integrations" / "pengaduan_whatsapp_app_secret").write_text("tersembunyi")
    monkeypatch.setenv("PENGADUAN_WHATSAPP_APP_SECRET", "")
    monkeypatch.setenv("PENGADUAN_TSA_URL", "http://[::1/tsa")
    code, rows, raw = _run_raw(capsys)
    assert code == 0
    assert rows["SMS in (POST /v1/channels/sms)"] == (
        "on",
        f"sms_webhook_token: {folder / 'pengaduan_sms_webhook_token'}",
    )
    email = rows["e-mail in (POST /v1/channels/email)"]
    assert email == ("on", f"email_webhook_token: {folder / 'integrations' / 'PENGADUAN_EMAIL_WEBHOOK_TOKEN'}")
    state, whatsapp = rows["WhatsApp in (POST /v1/channels/whatsapp)"]
    assert state == "off" and "EMPTY PENGADUAN_WHATSAPP_APP_SECRET in the environment hides" in whatsapp
    assert "(a URL that cannot be read: not shown)" in rows["timestamp authority"][1]
    for value in ("dari-folder", "huruf-besar", "tersembunyi"):
        assert value not in raw
