"""The one door: a ccxt client whose every request is classified, checked, verified.

Each endpoint call ccxt makes, unified or raw, passes `fetch2` before it is signed:
there the request is classified and the key's current permission level is checked.
Each HTTP request passes `fetch`, which refuses anything but HTTPS with certificate
checks. Reads are retried with back-off on rate limits and network trouble; trades
never are.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from crypto_trader.errors import (
    ConfigurationError,
    ExchangeAuthenticationError,
    ExchangeNetworkError,
    ExchangeUnavailableError,
    ForbiddenRequestError,
    InsecureTransportError,
    RateLimitedError,
)
from crypto_trader.exchanges.error_translation import translate
from crypto_trader.exchanges.https_session import VerifiedSession, require_https
from crypto_trader.exchanges.request_policy import RequestKind, classify
from crypto_trader.permissions import Operation, PermissionGate
from crypto_trader.vault.secrets import KeyMaterial

log = logging.getLogger(__name__)
T = TypeVar("T")
RETRYABLE = (RateLimitedError, ExchangeNetworkError, ExchangeUnavailableError)


@dataclass(frozen=True, slots=True)
class Credentials:
    """A stored key, opened for one session, with the gate that checks its level."""

    label: str
    material: KeyMaterial
    gate: PermissionGate


@dataclass(frozen=True, slots=True)
class DoorSettings:
    """How the door talks to an exchange."""

    sandbox: bool = False
    extra_ca_file: Path | None = None
    timeout_ms: int = 15_000
    read_attempts: int = 4
    backoff_s: float = 0.5
    max_backoff_s: float = 8.0


class ExchangeDoor:
    """Every request to one exchange, for one session, goes through an instance."""

    def __init__(
        self,
        exchange_id: str,
        settings: DoorSettings | None = None,
        credentials: Credentials | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.exchange_id = exchange_id
        self.settings = settings or DoorSettings()
        self._credentials = credentials
        self._sleep = sleep
        self._client: Any = None

    @property
    def client(self) -> Any:
        """The guarded ccxt client, built on first use."""
        if self._client is None:
            self._client = self._build_client()
        return self._client

    @property
    def key_label(self) -> str | None:
        """The label of the key this session uses, if any."""
        return None if self._credentials is None else self._credentials.label

    def close(self) -> None:
        """Drop the key material from the client and close its connections."""
        if self._client is not None:
            for attribute in ("apiKey", "secret", "password", "uid"):
                setattr(self._client, attribute, "")
            self._client.session.close()
            self._client = None

    def __enter__(self) -> ExchangeDoor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def read(self, request: str, call: Callable[[Any], T]) -> T:
        """Run a read, retrying rate limits and network trouble within a bound."""
        attempts = max(1, self.settings.read_attempts)
        for attempt in range(attempts):
            try:
                return self._call(request, call)
            except RETRYABLE as exc:
                if attempt == attempts - 1:
                    raise
                delay = min(
                    self.settings.max_backoff_s, self.settings.backoff_s * 2**attempt
                )
                log.warning("%s: %s, retrying in %.1f s", self.exchange_id, exc, delay)
                self._sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def trade(self, request: str, call: Callable[[Any], T]) -> T:
        """Run a trade once: the permission is checked before anything is sent."""
        self.check(RequestKind.TRADE, request)
        return self._call(request, call)

    def check(self, kind: RequestKind, request: str) -> None:
        """Refuse a request the key's current level, or the rules, do not allow."""
        if kind is RequestKind.FORBIDDEN:
            raise ForbiddenRequestError(
                f"{self.exchange_id}: {request} would move funds; Crypto Trader never "
                "sends withdrawals or transfers, for any key"
            )
        if kind is RequestKind.PUBLIC:
            return
        if self._credentials is None:
            raise ConfigurationError(
                f"{self.exchange_id}: {request} needs an API key; pass --key LABEL"
            )
        operation = Operation.TRADE if kind is RequestKind.TRADE else Operation.READ
        self._credentials.gate.check(self._credentials.label, operation, request)

    def _call(self, request: str, call: Callable[[Any], T]) -> T:
        import ccxt

        try:
            return call(self.client)
        except ccxt.BaseError as exc:
            raise translate(exc, self.exchange_id, request) from None
        except (ValueError, TypeError) as exc:
            if self._credentials is None or "sign" not in _frames(exc):
                raise
            # ccxt could not sign with the stored secret (not a PEM key, not base64).
            raise ExchangeAuthenticationError(
                f"{self.exchange_id}: the stored secret of key "
                f"{self._credentials.label!r} is not in the form this exchange "
                "expects; replace it with crypto-trader keys update"
            ) from None

    def _build_client(self) -> Any:
        import ccxt

        logging.getLogger("ccxt").setLevel(logging.WARNING)
        base = getattr(ccxt, self.exchange_id, None)
        if base is None:
            raise ConfigurationError(f"ccxt has no exchange {self.exchange_id!r}")
        client = guarded_class(base)(
            {
                "session": VerifiedSession(self.settings.extra_ca_file),
                "enableRateLimit": True,
                "timeout": self.settings.timeout_ms,
            }
        )
        client.crypto_trader_check = self.check
        client.options["maxRetriesOnFailure"] = 0
        if self.exchange_id == "binance":
            # Spot only: no futures hosts, no margin or currency lookups.
            client.options["fetchMarkets"] = {"types": ["spot"]}
            client.options["fetchCurrencies"] = False
            client.options["fetchMargins"] = False
            # `order list` without --symbol asks for every market's open orders.
            client.options["warnOnFetchOpenOrdersWithoutSymbol"] = False
        if self.settings.sandbox:
            self._use_sandbox(client)
        check_urls(client.urls.get("api"), self.exchange_id)
        if self._credentials is not None:
            _give_credentials(client, self._credentials.material)
        return client

    def _use_sandbox(self, client: Any) -> None:
        import ccxt

        no_sandbox = ConfigurationError(
            f"{self.exchange_id} has no test network in ccxt; run without --sandbox"
        )
        if not client.urls.get("test"):
            raise no_sandbox
        try:
            client.set_sandbox_mode(True)
        except (ccxt.NotSupported, TypeError):
            raise no_sandbox from None


def _frames(exc: BaseException) -> str:
    """The names of the functions an exception passed through."""
    names = []
    tb = exc.__traceback__
    while tb is not None:
        names.append(tb.tb_frame.f_code.co_name)
        tb = tb.tb_next
    return " ".join(names)


def _give_credentials(client: Any, material: KeyMaterial) -> None:
    client.apiKey = material.api_key.reveal()
    client.secret = material.secret.reveal()
    if material.passphrase is not None:
        client.password = material.passphrase.reveal()


def check_urls(urls: object, exchange_id: str) -> None:
    """Refuse an exchange whose API URLs are not all HTTPS (or WSS)."""
    for url in _strings(urls):
        try:
            require_https(url)
        except InsecureTransportError:
            raise InsecureTransportError(
                f"{exchange_id}: ccxt lists a non-HTTPS API URL; refusing to use it"
            ) from None


def _strings(value: object) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


@functools.cache
def guarded_class(base: type) -> type:
    """A subclass of a ccxt exchange whose requests pass the door's checks."""

    class Guarded(base):  # type: ignore[misc]
        crypto_trader_check: Callable[[RequestKind, str], None]

        def fetch2(  # type: ignore[no-untyped-def]
            self, path, api="public", method="GET", params=None, config=None
        ):
            kind = classify(self.id, api, method, str(path))
            self.crypto_trader_check(kind, f"{method} {path}")
            return super().fetch2(path, api, method, params or {}, config or {})

        def fetch(self, url, method="GET", headers=None, body=None):  # type: ignore[no-untyped-def]
            require_https(str(url))
            if self.verify is not True or self.validateServerSsl is not True:
                raise InsecureTransportError(
                    "certificate verification cannot be turned off in Crypto Trader"
                )
            self.verbose = False  # ccxt's verbose output prints keys and signatures
            return super().fetch(url, method, headers, body)

    Guarded.__name__ = f"Guarded{base.__name__}"
    return Guarded
