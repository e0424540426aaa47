"""The diagnostic log: rotated files in `logs/`, 0600, with secrets redacted."""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
from pathlib import Path

from crypto_trader.secure_fs import FILE_MODE
from crypto_trader.vault.secrets import redactions

LOG_NAME = "crypto-trader.log"
MAX_BYTES = 1_000_000
BACKUPS = 5
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class RedactingFilter(logging.Filter):
    """Blank every known secret in a record's final message and traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redactions.redact(record.getMessage())
        record.args = None
        if record.exc_info:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = redactions.redact(text)
            record.exc_info = None
        return True


class PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A rotating file handler whose files are 0600 whatever the umask."""

    def _open(self):  # type: ignore[no-untyped-def]
        fd = os.open(
            self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, FILE_MODE
        )
        os.fchmod(fd, FILE_MODE)
        return os.fdopen(fd, self.mode, encoding=self.encoding, errors=self.errors)


class WarningLineFormatter(logging.Formatter):
    """One `warning:` line, like the command line's own, never a traceback."""

    def format(self, record: logging.LogRecord) -> str:
        return f"warning: {record.getMessage()}"


def configure(logs_dir: Path, level: str, verbose: bool) -> None:
    """Send the package's logs to the file, and to stderr with `--verbose`.

    Without `--verbose`, stderr gets only warnings, one line each: a failure is
    reported by the command line's own one-line error, its details go to the file.
    """
    root = logging.getLogger("crypto_trader")
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    root.setLevel(logging.DEBUG)
    root.propagate = False
    redacting = RedactingFilter()
    file_handler = PrivateRotatingFileHandler(
        logs_dir / LOG_NAME, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8"
    )
    file_handler.setFormatter(logging.Formatter(FORMAT))
    file_handler.addFilter(redacting)
    root.addHandler(file_handler)
    set_file_level("DEBUG" if verbose else level)
    stream = logging.StreamHandler(sys.stderr)
    stream.addFilter(redacting)
    if verbose:
        stream.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    else:
        stream.setFormatter(WarningLineFormatter())
        stream.addFilter(_only_warnings)
    root.addHandler(stream)


def set_file_level(level: str) -> None:
    """Set the level of the log file (the `logging.level` setting)."""
    for handler in logging.getLogger("crypto_trader").handlers:
        if isinstance(handler, PrivateRotatingFileHandler):
            handler.setLevel(getattr(logging, level.upper(), logging.INFO))


def _only_warnings(record: logging.LogRecord) -> bool:
    return record.levelno == logging.WARNING
