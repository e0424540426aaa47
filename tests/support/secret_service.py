"""A private, unlocked GNOME Keyring Secret Service for tests.

`private_secret_service(base_dir)` starts a D-Bus session bus and a
`gnome-keyring-daemon --components=secrets` that live entirely under `base_dir`:
their own HOME, XDG directories and bus socket, so nothing touches the user's
keyring and nothing needs systemd or a display (it runs as root in a container).
The daemon creates a "login" collection, which is the default alias, with a
random password fed through stdin, so it starts unlocked.

The bus lists no service directories, so nothing on it is D-Bus-activatable:
no second keyring daemon and no `gcr-prompter`. That decides how a locked
collection behaves. Asked to unlock, gnome-keyring cannot reach a system
prompter and dismisses the prompt at once, so python-keyring's SecretService
backend raises `keyring.errors.KeyringLocked` ("Failed to unlock the
collection!") from `get_password`, `set_password` and `delete_password`,
within milliseconds. On a normal desktop bus the same call would open a
prompt and wait with no timeout. `secret-tool lookup` on a locked collection
prints nothing and exits 1, so `SecretServiceSession.lookup` returns None.

python-keyring 25.7 raises KeyringLocked without closing the D-Bus connection
it opened; the socket's ResourceWarning then surfaces in whichever test runs
the garbage collector next, and `filterwarnings = error` turns it into a
failure there. Wrap such calls in `keyring_connection_leak_collected()`.

`lock()` calls org.freedesktop.Secret.Service.Lock through `dbus-send`;
`unlock()` sends the password to the daemon's control socket, as the PAM
module does, because the Secret Service API only unlocks through a prompt.
"""

from __future__ import annotations

import gc
import os
import secrets
import shutil
import signal
import socket
import string
import struct
import subprocess
import time
import warnings
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, NoReturn
from xml.sax.saxutils import escape

import pytest

REQUIRE_ENV_VAR = "CRYPTO_TRADER_REQUIRE_SECRET_SERVICE"
REQUIRED_COMMANDS = ("dbus-daemon", "dbus-send", "gnome-keyring-daemon", "secret-tool")
DEFAULT_COLLECTION = "/org/freedesktop/secrets/aliases/default"

_SECRETS_BUS_NAME = "org.freedesktop.secrets"
_SERVICE_PATH = "/org/freedesktop/secrets"
_START_TIMEOUT_S = 10.0
_COMMAND_TIMEOUT_S = 10.0
_STOP_TIMEOUT_S = 5.0
_POLL_INTERVAL_S = 0.02
# sockaddr_un.sun_path holds 108 bytes including the terminating NUL.
_MAX_SOCKET_PATH_BYTES = 107
_CONTROL_OP_UNLOCK = 1
_CONTROL_RESULT_OK = 0
# Bytes a D-Bus address value may hold unescaped; the rest become %xx.
_DBUS_ADDRESS_SAFE = frozenset(
    (string.ascii_letters + string.digits + "-_/.\\*").encode("ascii")
)
_BUS_CONFIG = """\
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


@dataclass(frozen=True, slots=True)
class SecretServiceSession:
    """A running private Secret Service: its environment and its keyring files."""

    env: dict[str, str]
    keyring_dir: Path
    pids: tuple[int, ...]
    keyring_password: str = field(repr=False)

    def lookup(self, service: str, username: str) -> str | None:
        """Return the secret python-keyring stored for service/username, or None."""
        command = ["secret-tool", "lookup", "service", service, "username", username]
        result = _run(command, self.env)
        if result.returncode == 0:
            return result.stdout
        if result.returncode == 1 and not result.stderr.strip():
            return None
        raise RuntimeError(f"secret-tool lookup failed: {result.stderr.strip()}")

    def lock(self) -> None:
        """Lock the default collection."""
        method = "org.freedesktop.Secret.Service.Lock"
        target = f"array:objpath:{DEFAULT_COLLECTION}"
        result = _run(_dbus_send_command(_SERVICE_PATH, method, target), self.env)
        if result.returncode != 0:
            raise RuntimeError(f"{method} failed: {result.stderr.strip()}")

    def unlock(self) -> None:
        """Unlock the login collection with its password; raise if refused."""
        control_socket = Path(self.env["XDG_RUNTIME_DIR"]) / "keyring" / "control"
        if _control_unlock(control_socket, self.keyring_password) != _CONTROL_RESULT_OK:
            raise RuntimeError("gnome-keyring refused to unlock the login collection")

    def is_locked(self) -> bool:
        """Return whether the default collection is locked."""
        locked = _read_locked(self.env)
        if locked is None:
            raise RuntimeError("the default collection is not reachable on the bus")
        return locked


@dataclass(frozen=True, slots=True)
class _Layout:
    """Where one private Secret Service keeps its files under base_dir."""

    base_dir: Path
    home: Path
    runtime_dir: Path
    data_home: Path
    log_dir: Path
    bus_socket: Path
    bus_config: Path

    @classmethod
    def under(cls, base_dir: Path) -> _Layout:
        """Lay the directories out under base_dir."""
        home = base_dir / "home"
        return cls(
            base_dir=base_dir,
            home=home,
            runtime_dir=base_dir / "run",
            data_home=home / ".local" / "share",
            log_dir=base_dir / "logs",
            bus_socket=base_dir / "run" / "bus",
            bus_config=base_dir / "bus.conf",
        )

    def directories(self) -> tuple[Path, ...]:
        """Every directory to create, parents first."""
        home = self.home
        return (
            self.base_dir,
            home,
            home / ".config",
            home / ".cache",
            home / ".local",
            self.data_home,
            self.runtime_dir,
            self.log_dir,
        )

    def env(self) -> dict[str, str]:
        """The environment without the bus address, which dbus-daemon reports."""
        return {
            "PATH": os.environ.get("PATH", os.defpath),
            "HOME": str(self.home),
            "XDG_RUNTIME_DIR": str(self.runtime_dir),
            "XDG_DATA_HOME": str(self.data_home),
            "XDG_CONFIG_HOME": str(self.home / ".config"),
            "XDG_CACHE_HOME": str(self.home / ".cache"),
        }


def secret_service_available() -> str | None:
    """Return None when a private Secret Service can start here, else why not."""
    missing = [name for name in REQUIRED_COMMANDS if shutil.which(name) is None]
    if not missing:
        return None
    return (
        f"Secret Service test tools missing ({', '.join(missing)}); "
        "run scripts/install-test-deps.sh as root "
        "(Debian: gnome-keyring dbus libsecret-tools)"
    )


def require_or_skip(reason: str) -> NoReturn:
    """Skip the test, or fail it when CRYPTO_TRADER_REQUIRE_SECRET_SERVICE=1."""
    if os.environ.get(REQUIRE_ENV_VAR) == "1":
        pytest.fail(f"{REQUIRE_ENV_VAR}=1 but {reason}")
    pytest.skip(reason)


@contextmanager
def keyring_connection_leak_collected() -> Iterator[None]:
    """Collect, silently, the D-Bus socket python-keyring leaks on KeyringLocked."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        try:
            yield
        finally:
            gc.collect()


@contextmanager
def private_secret_service(base_dir: Path) -> Iterator[SecretServiceSession]:
    """Run a private bus and an unlocked gnome-keyring under base_dir until exit.

    Raises RuntimeError when the tools are missing or a daemon fails to start,
    ValueError when base_dir is too long for a Unix socket path or was used
    before.
    """
    reason = secret_service_available()
    if reason is not None:
        raise RuntimeError(reason)
    layout = _Layout.under(base_dir)
    _check_socket_path(base_dir, layout.bus_socket)
    _check_socket_path(base_dir, layout.runtime_dir / "keyring" / "control")
    if (layout.data_home / "keyrings").exists():
        # Its login keyring has another password, so it would stay locked.
        raise ValueError(f"base_dir {base_dir} already holds a keyring; pass a new one")

    _make_private_dirs(layout)
    password = secrets.token_urlsafe(32)
    with ExitStack() as stack:
        bus, address = _start_bus(layout, stack)
        env = {**layout.env(), "DBUS_SESSION_BUS_ADDRESS": address}
        keyring = _start_keyring(layout, env, password, stack)
        _wait_until_unlocked(keyring, env, layout.log_dir)
        yield SecretServiceSession(
            env=env,
            keyring_dir=layout.data_home / "keyrings",
            pids=(bus.pid, keyring.pid),
            keyring_password=password,
        )


def _check_socket_path(base_dir: Path, path: Path) -> None:
    if len(os.fsencode(path)) > _MAX_SOCKET_PATH_BYTES:
        raise ValueError(
            f"base_dir {base_dir} is too long: the Unix socket {path} must fit "
            f"in {_MAX_SOCKET_PATH_BYTES} bytes; pass a shorter directory"
        )


def _make_private_dirs(layout: _Layout) -> None:
    for directory in layout.directories():
        directory.mkdir(mode=0o700, exist_ok=True)
        directory.chmod(0o700)
    config = _BUS_CONFIG.format(socket=escape(_dbus_address_value(layout.bus_socket)))
    fd = os.open(layout.bus_config, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as stream:
        stream.write(config)


def _dbus_address_value(path: Path) -> str:
    """Escape a path for a D-Bus address, which reserves ',', '=', ';' and '%'."""
    raw = os.fsencode(path)
    return "".join(
        chr(byte) if byte in _DBUS_ADDRESS_SAFE else f"%{byte:02x}" for byte in raw
    )


def _start_bus(layout: _Layout, stack: ExitStack) -> tuple[subprocess.Popen[str], str]:
    log = stack.enter_context(_private_log(layout.log_dir / "dbus-daemon.log"))
    command = [
        "dbus-daemon",
        f"--config-file={layout.bus_config}",
        "--nofork",
        "--print-address=1",
    ]
    bus = _spawn(command, layout.env(), log, stack, stdout=subprocess.PIPE)
    assert bus.stdout is not None
    address = bus.stdout.readline().strip()
    bus.stdout.close()
    if not address:
        raise RuntimeError(f"dbus-daemon did not start; see {layout.log_dir}")
    return bus, address


def _start_keyring(
    layout: _Layout, env: dict[str, str], password: str, stack: ExitStack
) -> subprocess.Popen[str]:
    log = stack.enter_context(_private_log(layout.log_dir / "gnome-keyring.log"))
    command = [
        "gnome-keyring-daemon",
        "--foreground",
        "--unlock",
        "--components=secrets",
    ]
    keyring = _spawn(command, env, log, stack, stdin=subprocess.PIPE)
    assert keyring.stdin is not None
    # The password goes through stdin, never argv; EOF ends it.
    keyring.stdin.write(password)
    keyring.stdin.close()
    return keyring


def _spawn(
    command: list[str],
    env: dict[str, str],
    log: IO[str],
    stack: ExitStack,
    stdin: int = subprocess.DEVNULL,
    stdout: int = subprocess.DEVNULL,
) -> subprocess.Popen[str]:
    """Start a daemon in its own process group and stop it when stack closes."""
    process = subprocess.Popen(
        command,
        env=env,
        stdin=stdin,
        stdout=stdout,
        stderr=log,
        text=True,
        encoding="utf-8",
        start_new_session=True,
    )
    stack.enter_context(process)
    stack.callback(_stop, process)
    return process


@contextmanager
def _private_log(path: Path) -> Iterator[IO[str]]:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as stream:
        yield stream


def _stop(process: subprocess.Popen[str]) -> None:
    """Terminate the daemon's process group, killing it if it lingers."""
    if process.poll() is not None:
        return
    _signal_group(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=_STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        _signal_group(process.pid, signal.SIGKILL)
        process.wait(timeout=_STOP_TIMEOUT_S)


def _signal_group(pgid: int, signum: signal.Signals) -> None:
    with suppress(ProcessLookupError):
        os.killpg(pgid, signum)


def _wait_until_unlocked(
    keyring: subprocess.Popen[str], env: dict[str, str], log_dir: Path
) -> None:
    deadline = time.monotonic() + _START_TIMEOUT_S
    while time.monotonic() < deadline:
        status = keyring.poll()
        if status is not None:
            raise RuntimeError(
                f"gnome-keyring-daemon exited with status {status}; see {log_dir}"
            )
        if _read_locked(env) is False:
            return
        time.sleep(_POLL_INTERVAL_S)
    raise RuntimeError(
        f"the default collection was not unlocked within {_START_TIMEOUT_S} s; "
        f"see {log_dir}"
    )


def _read_locked(env: dict[str, str]) -> bool | None:
    """Return the default collection's Locked property, None if unreachable."""
    command = _dbus_send_command(
        DEFAULT_COLLECTION,
        "org.freedesktop.DBus.Properties.Get",
        "string:org.freedesktop.Secret.Collection",
        "string:Locked",
    )
    result = _run(command, env)
    if result.returncode != 0:
        return None
    return result.stdout.split()[-1] == "true"


def _dbus_send_command(path: str, method: str, *args: str) -> list[str]:
    return [
        "dbus-send",
        "--session",
        "--print-reply=literal",
        f"--dest={_SECRETS_BUS_NAME}",
        path,
        method,
        *args,
    ]


def _run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=_COMMAND_TIMEOUT_S,
        check=False,
    )


def _control_unlock(control_socket: Path, password: str) -> int:
    """Send gnome-keyring's control UNLOCK request and return its result code.

    A packet is a big-endian uint32 total length, the uint32 operation, then
    the password as a uint32 length and its bytes; the reply is length and
    result. A single NUL byte first lets the daemon check our credentials.
    """
    secret = password.encode()
    body = struct.pack(">II", _CONTROL_OP_UNLOCK, len(secret)) + secret
    packet = struct.pack(">I", 4 + len(body)) + body
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(_COMMAND_TIMEOUT_S)
        conn.connect(str(control_socket))
        conn.sendall(b"\0" + packet)
        reply = _receive_exactly(conn, 8)
    _length, result = struct.unpack(">II", reply)
    return int(result)


def _receive_exactly(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise RuntimeError("gnome-keyring closed its control socket early")
        data += chunk
    return data
