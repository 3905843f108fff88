"""Log lines: one per request (the access log, beyond-gitlab §6.5) and Cargobay's own
(client aborts, scheduled work...), as JSON lines or human-readable text.

``log_format=auto`` (the default) writes text when stderr is a terminal and JSON lines
otherwise (a service manager, a container, a file). Records go through a queue to a
listener thread, which formats and writes them: the event loop never waits on stderr,
and a request pays only for building a small dict and a LogRecord. The formatter drops
secrets: the values of token and password query parameters become ``[FILTERED]``, and
no header but the user agent is logged.
"""

from __future__ import annotations

import atexit
import logging
import queue
import sys
from datetime import UTC, datetime
from logging.handlers import QueueHandler, QueueListener
from typing import Any
from urllib.parse import parse_qsl

import orjson

ACCESS_LOGGER = "cargobay.access"
FILTERED = "[FILTERED]"
# GitLab filters these parameters (config/initializers/filter_parameter_logging.rb); any
# key that contains one of these words is filtered.
SECRET_WORDS = ("token", "password", "secret")
_MARK = "_cargobay_handler"  # on the handlers this module installed


def filtered_params(query: bytes) -> list[dict[str, str]]:
    """The query as GitLab's ``params`` list, secrets filtered."""
    params = []
    for key, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
        secret = any(word in key.lower() for word in SECRET_WORDS)
        params.append({"key": key, "value": FILTERED if secret else value})
    return params


def _time(created: float) -> str:
    return datetime.fromtimestamp(created, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, Any] = {"time": _time(record.created), "severity": record.levelname}
        access = getattr(record, "access", None)
        if access is not None:
            fields.update(_access_fields(access))
        else:
            fields["logger"] = record.name
            fields["message"] = record.getMessage()
            if record.exc_info:
                fields["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(fields).decode()


class Text(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        access = getattr(record, "access", None)
        if access is None:
            line = f"[{record.levelname}] {record.name}: {record.getMessage()}"
            if record.exc_info:
                line += "\n" + self.formatException(record.exc_info)
            return line
        f = _access_fields(access)
        path = f["path"]
        if "params" in f:
            path += "?" + "&".join(f"{p['key']}={p['value']}" for p in f["params"])
        return (
            f'{f["remote_ip"] or "-"} "{f["method"]} {path}" {f["status"]} '
            f"{f['bytes_out']}B {f['duration_s'] * 1000:.1f}ms id={f['correlation_id']}"
        )


def _access_fields(access: dict[str, Any]) -> dict[str, Any]:
    fields = dict(access)
    query = fields.pop("query", b"")
    if query:
        fields["params"] = filtered_params(query)
    fields["duration_s"] = round(fields["duration_s"], 6)
    fields["ttfb_s"] = round(fields["ttfb_s"], 6)
    if fields.get("delivery") is None:
        fields.pop("delivery", None)
    return fields


class _Deferred(QueueHandler):
    """Hands the record itself to the listener, which formats it: QueueHandler's own
    ``prepare`` would format it here, on the event loop."""

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        return record


class AccessLog:
    """One line per request, through the ``cargobay.access`` logger."""

    def __init__(self) -> None:
        self.logger = logging.getLogger(ACCESS_LOGGER)

    def request(self, fields: dict[str, Any]) -> None:
        logger = self.logger
        if logger.isEnabledFor(logging.INFO):
            logger.info("request", extra={"access": fields})


def wants_json(log_format: str, stream: Any) -> bool:
    if log_format == "auto":
        isatty = getattr(stream, "isatty", None)
        return not (isatty is not None and isatty())
    return log_format == "json"


class _Listener:
    """The process's one listener thread (logging is per process anyway)."""

    current: QueueListener | None = None


def configure(log_format: str) -> None:
    """Send the ``cargobay`` loggers' lines (access log included) to stderr through a
    queue, formatted as ``log_format`` says, unless the host application configured the
    ``cargobay`` logger itself. Called by create_app; a second call replaces the first."""
    log = logging.getLogger("cargobay")
    ours = [h for h in log.handlers if getattr(h, _MARK, False)]
    if log.handlers and not ours:
        return  # the host application's logging
    if log.level == logging.NOTSET:
        log.setLevel(logging.INFO)
    for handler in ours:
        log.removeHandler(handler)
    if _Listener.current is not None:
        _Listener.current.stop()
    stream = sys.stderr
    output = logging.StreamHandler(stream)
    output.setFormatter(JsonLines() if wants_json(log_format, stream) else Text())
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    handler = _Deferred(records)
    setattr(handler, _MARK, True)
    log.addHandler(handler)
    listener = QueueListener(records, output)
    listener.start()
    _Listener.current = listener


@atexit.register
def _flush() -> None:
    if _Listener.current is not None:
        _Listener.current.stop()
        _Listener.current = None
