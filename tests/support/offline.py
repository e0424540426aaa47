"""Keep tests off the internet: name lookups and connections beyond loopback fail.

They fail the way a machine without a network does (socket.gaierror, OSError), so the
product's own handling of an unreachable exchange is what runs. Tests that need an
exchange use the stand-ins and their redirect, which routes names to loopback.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
from typing import Any

_LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", ""})


def _is_loopback(host: object) -> bool:
    name = host.decode() if isinstance(host, bytes) else str(host)
    if name.lower() in _LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(name.split("%")[0]).is_loopback
    except ValueError:
        return False


def offline_getaddrinfo(real: Any) -> Any:
    """A getaddrinfo that answers only for loopback names."""

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host is not None and not _is_loopback(host):
            raise socket.gaierror(socket.EAI_NONAME, "offline test run")
        return real(host, *args, **kwargs)

    return getaddrinfo


def offline_connect(real: Any) -> Any:
    """A socket.connect that refuses any non-loopback inet address."""

    def connect(sock: socket.socket, address: Any) -> Any:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(
            address[0]
        ):
            raise OSError(errno.ENETUNREACH, "offline test run")
        return real(sock, address)

    return connect


def install() -> None:
    """Make this whole process offline (for child processes started by tests)."""
    socket.getaddrinfo = offline_getaddrinfo(socket.getaddrinfo)
    socket.socket.connect = offline_connect(socket.socket.connect)  # type: ignore[method-assign]
