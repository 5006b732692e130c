"""Notify's channel credentials come from secret files like every other setting (Docker/Kubernetes secrets)."""

from __future__ import annotations

from services.notify.adapters.channels.registry import build_channels
from services.notify.config import NotifySettings


def test_channel_credentials_are_read_from_the_secrets_folder_and_the_environment_wins(tmp_path, monkeypatch):
    (tmp_path / "pengaduan_smtp_password").write_text("smtp-password-from-a-file")
    (tmp_path / "pengaduan_whatsapp_token").write_text("whatsapp-token-from-a-file")
    (tmp_path / "pengaduan_sms_token").write_text("sms-token-from-a-file")
    monkeypatch.setenv("PENGADUAN_SECRETS_DIR", str(tmp_path))
    for name in ("PENGADUAN_SMTP_PASSWORD", "PENGADUAN_WHATSAPP_TOKEN", "PENGADUAN_SMS_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PENGADUAN_WHATSAPP_PHONE_NUMBER_ID", "1234567890")

    settings = NotifySettings(environment="test")
    assert settings.smtp_password.get_secret_value() == "smtp-password-from-a-file"
    assert settings.whatsapp_token.get_secret_value() == "whatsapp-token-from-a-file"
    assert settings.sms_token.get_secret_value() == "sms-token-from-a-file"
    assert "whatsapp" in build_channels(settings)  # a channel built from a file's credential

    monkeypatch.setenv("PENGADUAN_SMTP_PASSWORD", "from-the-environment")
    assert NotifySettings(environment="test").smtp_password.get_secret_value() == "from-the-environment"
