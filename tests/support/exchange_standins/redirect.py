"""Send exchange connections to loopback stand-ins; refuse everything else off-host.

Only the socket destination changes: name resolution answers 127.0.0.1 and the
stand-in's port for a routed host name, so the client still sends that host name in
SNI and checks the server certificate against it. While a redirect is installed, any
other name lookup and any connection to a non-loopback address raises
`InternetAccessRefusedError`, so no test can reach the internet by accident.

This module uses the standard library only: the test start-up hook imports it in the
child processes a test starts (see `install_from_environment`).
"""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import threading
from collections.abc import Mapping
from typing import Any

REDIRECT_ENV = "CRYPTO_TRADER_TEST_EXCHANGE_REDIRECT"
_LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain"})
_real_getaddrinfo = socket.getaddrinfo
_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_installed: list[HostRedirect] = []
_install_lock = threading.Lock()


class InternetAccessRefusedError(RuntimeError):
    """Raised when code under test tries to reach a host that is not a stand-in."""


class HostRedirect:
    """Routes host names to loopback ports while installed (a context manager)."""

    def __init__(self, routes: Mapping[str, int]) -> None:
        self.routes = {host.lower(): port for host, port in routes.items()}
        self.refused: list[str] = []
        self._previous: tuple[Any, Any, Any] = (None, None, None)

    def __enter__(self) -> HostRedirect:
        self.install()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.uninstall()

    def install(self) -> None:
        """Patch name resolution and connect for this whole process."""
        with _install_lock:
            if _installed:
                raise RuntimeError("a host redirect is already installed")
            _installed.append(self)
            self._previous = (
                socket.getaddrinfo,
                socket.socket.connect,
                socket.socket.connect_ex,
            )
            socket.getaddrinfo = self._getaddrinfo
            socket.socket.connect = _guarded_connect  # type: ignore[method-assign,assignment]
            socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign,assignment]

    def uninstall(self) -> None:
        """Restore the real name resolution and connect."""
        with _install_lock:
            if _installed != [self]:
                return
            _installed.clear()
            # Put back what was there before (the suite's offline guard, or the real
            # functions), not necessarily the real ones.
            previous = self._previous
            socket.getaddrinfo = previous[0]
            socket.socket.connect = previous[1]  # type: ignore[method-assign]
            socket.socket.connect_ex = previous[2]  # type: ignore[method-assign]

    def refuse(self, what: str) -> InternetAccessRefusedError:
        """Record a refused attempt (for teardown checks) and build its error."""
        self.refused.append(what)
        return InternetAccessRefusedError(
            f"tests may not reach {what}: only stand-in hosts "
            f"{sorted(self.routes)} and loopback are allowed"
        )

    def _getaddrinfo(
        self,
        host: bytes | str | None,
        port: bytes | str | int | None,
        family: int = 0,
        type: int = 0,
        proto: int = 0,
        flags: int = 0,
    ) -> list[Any]:
        name = host.decode() if isinstance(host, bytes) else host
        if name is not None and name.lower().rstrip(".") in self.routes:
            routed_port = self.routes[name.lower().rstrip(".")]
            return _real_getaddrinfo(
                "127.0.0.1", routed_port, socket.AF_INET, type, proto, flags
            )
        if name is None or _is_loopback(name):
            return _real_getaddrinfo(host, port, family, type, proto, flags)
        raise self.refuse(f"host {name!r}")


def install_from_environment() -> HostRedirect | None:
    """Install the redirect named by REDIRECT_ENV for the rest of this process.

    The variable holds a JSON object mapping host names to loopback ports, as built
    by `environment_for`. Returns the redirect, or None when the variable is unset.
    """
    spec = os.environ.get(REDIRECT_ENV)
    if not spec:
        return None
    routes = json.loads(spec)
    redirect = HostRedirect({str(host): int(port) for host, port in routes.items()})
    redirect.install()
    return redirect


def environment_for(routes: Mapping[str, int]) -> dict[str, str]:
    """The environment entry that makes a child process install these routes."""
    return {REDIRECT_ENV: json.dumps(dict(sorted(routes.items())))}


def _is_loopback(name: str) -> bool:
    if name.lower() in _LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(name.split("%")[0]).is_loopback
    except ValueError:
        return False


def _check_destination(sock: socket.socket, address: Any) -> None:
    if sock.family not in (socket.AF_INET, socket.AF_INET6):
        return
    host = str(address[0])
    if _is_loopback(host):
        return
    redirect = _installed[0] if _installed else HostRedirect({})
    raise redirect.refuse(f"address {host!r}")


def _guarded_connect(sock: socket.socket, address: Any) -> None:
    _check_destination(sock, address)
    _real_connect(sock, address)


def _guarded_connect_ex(sock: socket.socket, address: Any) -> int:
    _check_destination(sock, address)
    return _real_connect_ex(sock, address)
