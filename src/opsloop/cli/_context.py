"""The client a command talks through, made from the global options once per invocation."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opsloop.domain.settings import Settings
    from opsloop.sdk.client import Client


@dataclass
class CliState:
    options: dict[str, Any] = field(default_factory=dict)
    _client: Client | None = None

    def settings(self) -> Settings:
        from opsloop.domain.settings import Settings

        return Settings.load(**self.options)

    def client(self) -> Client:
        if self._client is None:
            from opsloop.sdk.client import Client

            self._client = Client(self.settings())
        return self._client

    def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            client.close()


def make_state(home: Path | None, url: str | None, database_url: str | None) -> CliState:
    return CliState({"home": home, "url": url, "database_url": database_url})
