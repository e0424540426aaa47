"""Real ccxt clients that trust the test authority (on top of the public roots).

ccxt's synchronous `fetch` passes `verify=self.verify and self.validateServerSsl`
(that is, True) to every `session.request`, and a per-request `verify=True` wins
over `session.verify`: setting `exchange.session.verify = bundle` has no effect.
`BundleSession` instead mounts an adapter whose TLS context was loaded once from the
bundle, and refuses any request that asks for other verification settings.
"""

from __future__ import annotations

import functools
import ssl
from pathlib import Path
from typing import Any

import requests
from requests.adapters import HTTPAdapter


class _ContextAdapter(HTTPAdapter):
    """Verifies with one preloaded context instead of re-reading a bundle file on
    every new connection (urllib3 reloads `ca_certs` per connection)."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self._context = context
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["ssl_context"] = self._context
        super().init_poolmanager(*args, **kwargs)

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        super().cert_verify(conn, url, verify, cert)
        conn.ca_certs = None  # trust comes from the preloaded context alone


class BundleSession(requests.Session):
    """A requests session whose certificate checks use one CA bundle file."""

    def __init__(self, bundle_path: Path) -> None:
        super().__init__()
        self.trust_env = False
        self.mount("https://", _ContextAdapter(_verifying_context(str(bundle_path))))

    def request(  # type: ignore[override]
        self, method: str, url: str, *args: Any, **kwargs: Any
    ) -> requests.Response:
        if kwargs.get("verify", True) is not True:
            raise ValueError("certificate verification may not be turned off")
        if not url.startswith("https://"):
            raise ValueError(f"only HTTPS is allowed, not {url.split(':')[0]}")
        return super().request(method, url, *args, **kwargs)


@functools.lru_cache(maxsize=4)
def _verifying_context(bundle_path: str) -> ssl.SSLContext:
    """One verifying context per bundle: parsing ~150 roots costs ~0.1 s each time."""
    return ssl.create_default_context(cafile=bundle_path)


def ccxt_client(exchange_id: str, bundle_path: Path, **config: Any) -> Any:
    """A synchronous ccxt exchange whose HTTPS trusts `bundle_path`.

    The caller closes it (`client.close()`), which closes the session's sockets.
    """
    import ccxt

    exchange_class = getattr(ccxt, exchange_id)
    return exchange_class({"session": BundleSession(bundle_path), **config})
