from pydantic import Field

from shared.config import Settings


class WebSettings(Settings):
    """The web app's settings: the base ones plus where it finds the APIs and how it keeps sessions."""

    web_api_url: str = Field(
        "http://127.0.0.1:8000",
        description="Base URL under which the web app reaches the APIs (the gateway, or nginx in docker-compose)",
    )
    web_session_hours: int = Field(9, description="How long a browser session lasts (at most the token's life)")
    web_secure_cookies: bool | None = Field(
        None, description="Cookies marked Secure; default: when PENGADUAN_PUBLIC_BASE_URL is https"
    )

    devsinks_url: str | None = Field(
        None, description="Set by `make run` when local sinks take the messages: staff pages link /dev/outbox"
    )

    @property
    def secure_cookies(self) -> bool:
        if self.web_secure_cookies is not None:
            return self.web_secure_cookies
        return self.public_base_url.startswith("https://")
