"""The HTTP session ccxt gets: HTTPS only, certificates always checked.

ccxt passes `verify=True` on every request, and requests would let the environment
(REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE) or a per-request value replace the trusted roots.
This session trusts exactly the public roots (certifi) plus, optionally, one extra CA
file the user chose (a corporate proxy); nothing can remove a root or turn checks off.
"""

from __future__ import annotations

import functools
import ssl
from pathlib import Path
from typing import Any

import certifi
import requests
from requests.adapters import HTTPAdapter

from crypto_trader.errors import ConfigurationError, InsecureTransportError


class _VerifyingAdapter(HTTPAdapter):
    """Verifies every connection with one preloaded context."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self._context = context
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["ssl_context"] = self._context
        super().init_poolmanager(*args, **kwargs)

    def proxy_manager_for(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["ssl_context"] = self._context
        return super().proxy_manager_for(*args, **kwargs)

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        super().cert_verify(conn, url, True, cert)
        conn.ca_certs = None  # trust comes from the preloaded context alone


class VerifiedSession(requests.Session):
    """A requests session that refuses plain HTTP and unverified TLS."""

    def __init__(self, extra_ca_file: Path | None = None) -> None:
        super().__init__()
        self.trust_env = False
        self.mount("https://", _VerifyingAdapter(verifying_context(extra_ca_file)))
        self.mount("http://", _RefusingAdapter())

    def request(  # type: ignore[override]
        self, method: str, url: str, *args: Any, **kwargs: Any
    ) -> requests.Response:
        if kwargs.get("verify", True) is not True:
            raise InsecureTransportError(
                "certificate verification cannot be turned off in Crypto Trader"
            )
        require_https(url)
        return super().request(method, url, *args, **kwargs)


class _RefusingAdapter(HTTPAdapter):
    def send(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        require_https(str(request.url))


def require_https(url: str) -> None:
    """Refuse any URL that is not https:// (or wss:// for streams)."""
    scheme = url.split(":", 1)[0].lower()
    if scheme not in ("https", "wss"):
        raise InsecureTransportError(
            f"refusing a {scheme or 'schemeless'} URL: exchanges are reached over "
            "HTTPS only"
        )


@functools.lru_cache(maxsize=4)
def verifying_context(extra_ca_file: Path | None) -> ssl.SSLContext:
    """The public roots, plus one extra CA when the user configured it."""
    context = ssl.create_default_context(cafile=certifi.where())
    if extra_ca_file is not None:
        try:
            context.load_verify_locations(cafile=str(extra_ca_file))
        except (OSError, ssl.SSLError) as exc:
            raise ConfigurationError(
                f"cannot load the extra CA certificate {extra_ca_file}; check the "
                "setting exchange.extra_ca_file points at a PEM certificate"
            ) from exc
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    return context
