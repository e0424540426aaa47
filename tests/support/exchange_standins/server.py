"""The threaded HTTPS server under every stand-in, with its request log and failures.

A stand-in answers on 127.0.0.1 for its exchange's host names (see `redirect`). The
TLS handshake happens in the connection's own thread, so a client that rejects the
certificate shows up in `handshake_failures` and never in `requests`.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from tests.support.exchange_standins.failures import Failure
from tests.support.exchange_standins.messages import ApiError, RecordedRequest, Reply
from tests.support.exchange_standins.tls import ServerIdentity

Clock = Callable[[], float]


@dataclass(slots=True)
class _Injection:
    failure: Failure
    remaining: int
    method: str | None
    path: str | None

    def matches(self, request: RecordedRequest) -> bool:
        if self.remaining <= 0:
            return False
        if self.method is not None and request.method != self.method:
            return False
        return self.path is None or request.path.startswith(self.path)


class Standin:
    """Base of the exchange stand-ins: lifecycle, request log, failure injection.

    Subclasses set `hosts`, implement `route` and the four exchange-format error
    replies, and keep their state in `reset_state`. `clock` (epoch seconds) is what
    the stand-in believes the time is; tests may replace it.
    """

    hosts: tuple[str, ...] = ()

    def __init__(self, identity: ServerIdentity, clock: Clock = time.time) -> None:
        self.clock = clock
        self._default_clock = clock
        self.lock = threading.RLock()
        self._context = identity.server_context()
        self._server: _TlsServer | None = None
        self._released = threading.Event()
        self.requests: list[RecordedRequest] = []
        self.handshake_failures: list[str] = []
        self.internal_errors: list[str] = []
        self._handshakes = threading.Condition()
        self._injections: list[_Injection] = []
        self._rate_window: tuple[int, float] | None = None
        self._recent: list[float] = []
        self.reset()

    # -- lifecycle -----------------------------------------------------------------

    def start(self) -> None:
        """Listen on an ephemeral loopback port and serve in a background thread."""
        self._server = _TlsServer(self)
        thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"{type(self).__name__}-server",
            daemon=True,
        )
        thread.start()

    def stop(self) -> None:
        """Stop serving, end stalls and close every open connection."""
        self._released.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.close_connections()
            self._server.server_close()
            self._server = None

    @property
    def port(self) -> int:
        """The loopback port the stand-in listens on."""
        if self._server is None:
            raise RuntimeError("the stand-in is not started")
        return int(self._server.server_address[1])

    @property
    def routes(self) -> dict[str, int]:
        """Host name to loopback port, for `HostRedirect`."""
        return dict.fromkeys(self.hosts, self.port)

    def use_identity(self, identity: ServerIdentity) -> None:
        """Present another certificate from the next connection on."""
        self._context = identity.server_context()

    def reset(self) -> None:
        """Forget requests, failures, state and clock changes; end any stall."""
        with self.lock:
            self._released.set()
            self._released = threading.Event()
            self.clock = self._default_clock
            self.requests = []
            self.internal_errors = []
            with self._handshakes:
                self.handshake_failures.clear()
            self._injections = []
            self._rate_window = None
            self._recent = []
            self.reset_state()

    # -- what tests use ------------------------------------------------------------

    def inject(
        self,
        failure: Failure,
        times: int = 1,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        """Answer the next `times` matching requests with `failure`.

        `method` matches exactly, `path` as a prefix of the URL path.
        """
        with self.lock:
            self._injections.append(_Injection(failure, times, method, path))

    def reset_log(self) -> None:
        """Forget the requests seen so far; state and injected failures stay."""
        with self.lock:
            self.requests = []

    def limit_requests(self, max_requests: int, per_seconds: float) -> None:
        """Answer 429 once more than `max_requests` arrive within `per_seconds`."""
        with self.lock:
            self._rate_window = (max_requests, per_seconds)

    def requests_to(
        self, path: str, method: str | None = None
    ) -> list[RecordedRequest]:
        """Logged requests to exactly this path (and with that method)."""
        with self.lock:
            return [
                r
                for r in self.requests
                if r.path == path and method in (None, r.method)
            ]

    def methods_seen(self) -> set[str]:
        """The HTTP methods of every logged request (e.g. to prove no POST)."""
        with self.lock:
            return {r.method for r in self.requests}

    def wait_for_handshake_failures(
        self, count: int = 1, timeout_s: float = 5.0
    ) -> list[str]:
        """The failed TLS handshakes, once `count` happened (or the timeout passed).

        The client gives up as soon as it rejects the certificate, maybe before the
        server thread has noted the failure: wait for it instead of sleeping.
        """
        with self._handshakes:
            self._handshakes.wait_for(
                lambda: len(self.handshake_failures) >= count, timeout_s
            )
            return list(self.handshake_failures)

    def note_handshake_failure(self, error: Exception) -> None:
        """Record a failed TLS handshake (called from a connection thread)."""
        with self._handshakes:
            self.handshake_failures.append(str(error))
            self._handshakes.notify_all()

    def now_ms(self) -> int:
        """The stand-in's time in UTC epoch milliseconds."""
        return int(self.clock() * 1000)

    def wait_released(self, seconds: float) -> None:
        """Block a handler thread until `seconds` pass or the stand-in is reset."""
        self._released.wait(seconds)

    # -- to implement --------------------------------------------------------------

    def reset_state(self) -> None:
        """Put the exchange state (keys, balances, orders, candles) back to new."""
        raise NotImplementedError

    def route(self, request: RecordedRequest) -> Reply:
        """The exchange's answer to a request; raise ApiError for an exchange error."""
        raise NotImplementedError

    def rate_limited_reply(self, retry_after_s: int) -> Reply:
        """HTTP 429 (or the exchange's equivalent) with a Retry-After header."""
        raise NotImplementedError

    def server_error_reply(self, status: int) -> Reply:
        """An HTTP 5xx as the exchange (or its gateway) sends it."""
        raise NotImplementedError

    def permission_denied_reply(self) -> Reply:
        """The exchange's answer to a key without the right for a request."""
        raise NotImplementedError

    def invalid_key_reply(self) -> Reply:
        """The exchange's answer to an unknown or revoked key."""
        raise NotImplementedError

    # -- request handling ----------------------------------------------------------

    def answer(self, request: RecordedRequest) -> Reply | None:
        """The reply to one request (None closes the connection unanswered)."""
        with self.lock:
            injection = next((i for i in self._injections if i.matches(request)), None)
            if injection is not None:
                injection.remaining -= 1
            over_limit = injection is None and self._over_rate_limit()
            name = injection.failure.name if injection else None
            name = "rate_limited" if over_limit else name
            self.requests.append(_answered_with(request, name))
        if over_limit:
            return self.rate_limited_reply(1)
        if injection is not None:
            return injection.failure.answer(self, lambda: self._routed(request))
        return self._routed(request)

    def _routed(self, request: RecordedRequest) -> Reply:
        with self.lock:
            try:
                return self.route(request)
            except ApiError as error:
                return error.reply
            except Exception:  # a bug in the stand-in, not an exchange answer
                self.internal_errors.append(traceback.format_exc())
                return Reply(500, b"stand-in internal error", "text/plain")

    def _over_rate_limit(self) -> bool:
        if self._rate_window is None:
            return False
        max_requests, per_seconds = self._rate_window
        now = self.clock()
        self._recent = [t for t in self._recent if t > now - per_seconds]
        self._recent.append(now)
        return len(self._recent) > max_requests


def _answered_with(request: RecordedRequest, name: str | None) -> RecordedRequest:
    if name is None:
        return request
    return RecordedRequest(
        request.method,
        request.host,
        request.path,
        request.query,
        request.headers,
        request.body,
        name,
    )


class _TlsServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, standin: Standin) -> None:
        self.standin = standin
        self._connections: set[ssl.SSLSocket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        request.settimeout(10)
        try:
            connection = self.standin._context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as error:
            self.standin.note_handshake_failure(error)
            return
        with self._connections_lock:
            self._connections.add(connection)
        try:
            self.RequestHandlerClass(connection, client_address, self)  # type: ignore[arg-type]
        finally:
            with self._connections_lock:
                self._connections.discard(connection)
            connection.close()

    def close_connections(self) -> None:
        with self._connections_lock:
            for connection in self._connections:
                _shut(connection)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up mid-answer is expected (timeouts); stay quiet."""


def _shut(connection: socket.socket) -> None:
    try:
        connection.shutdown(socket.SHUT_RDWR)
    except OSError:
        return


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30
    disable_nagle_algorithm = True  # headers and body go out as separate writes
    server: _TlsServer

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_DELETE = do_PUT = do_GET  # noqa: N815

    def log_message(self, format: str, *args: Any) -> None:
        """No access log on stderr: tests read `Standin.requests` instead."""

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        request = RecordedRequest(
            method=self.command,
            host=(self.headers.get("Host") or "").split(":")[0],
            path=url.path,
            query=url.query,
            headers=tuple(self.headers.items()),
            body=body,
        )
        reply = self.server.standin.answer(request)
        if reply is None:
            self.close_connection = True
            return
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(reply.body)
