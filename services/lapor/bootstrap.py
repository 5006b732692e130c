"""The bridge's parts, built from its settings: the engine, LAPOR!'s adapter, intake's client, the kecamatan
directory (their kabupaten's categories) and the clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine

from services.lapor.adapters.http import HttpLaporApi
from services.lapor.adapters.intake import IntakeClient
from services.lapor.config import LaporSettings
from services.lapor.domain.ports import LaporApi
from shared.tenancy import KecamatanDirectory


@dataclass
class Bridge:
    settings: LaporSettings
    engine: Engine
    api: LaporApi
    intake: IntakeClient
    directory: KecamatanDirectory
    clock: Callable[[], datetime]


def bootstrap(settings: LaporSettings, engine: Engine, api: LaporApi | None = None) -> Bridge:
    if not settings.lapor_url or settings.lapor_token is None or settings.lapor_webhook_token is None:
        raise ValueError("the LAPOR! bridge is off: PENGADUAN_LAPOR_URL, _TOKEN and _WEBHOOK_TOKEN are needed")
    return Bridge(
        settings=settings,
        engine=engine,
        api=api
        or HttpLaporApi(
            settings.lapor_url,
            settings.lapor_token.get_secret_value(),
            timeout=settings.lapor_timeout,
        ),
        intake=IntakeClient(
            settings.lapor_intake_url, settings.lapor_webhook_token.get_secret_value(), timeout=settings.lapor_timeout
        ),
        directory=KecamatanDirectory(engine),
        clock=lambda: datetime.now(UTC),
    )
