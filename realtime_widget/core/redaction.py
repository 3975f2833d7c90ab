"""Credentials out of texts, values and logs: one place that knows how to blank them.

- :func:`redact` blanks, in a text, the value of every credential header, the key carried in
  a browser subprotocol (``openai-insecure-api-key.KEY``), credentials in a URL and any
  secret it is given. It is what makes a URL fit to display (reprs, log lines, errors).
- :class:`Redactor` holds the secrets of one connection (the transport feeds it every
  credential it sends: see :attr:`realtime_widget.client.api.RealtimeAPI.redactor`) and blanks
  them, with :func:`redact`, in a text (``redactor(text)``) or, as literal strings, in every
  string of a JSON-like value (:meth:`Redactor.value`): received events, widget traits,
  messages to the browser. A secret once known stays known.
- websockets logs the handshake's header lines at debug level, ``Authorization`` and
  ``api-key`` included. :class:`RedactingLogger` is handed to it instead of a plain logger:
  it redacts the message and each argument before anything reaches a handler.

Pure: no I/O.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from typing import Any, Final
from urllib.parse import parse_qsl, urlsplit

__all__ = [
    "MIN_SECRET_CHARS",
    "REDACTED",
    "RedactingLogger",
    "Redactor",
    "redact",
    "url_credentials",
]

REDACTED: Final = "<redacted>"
MIN_SECRET_CHARS: Final = 4  # a shorter "secret" would blank ordinary words

_CREDENTIAL_HEADER = re.compile(
    r"(?im)^([<>]?\s*(?:authorization|api-key|openai-api-key|x-api-key)\s*:\s*)(\S.*)$"
)
_SUBPROTOCOL_KEY = re.compile(r"(openai-insecure-api-key\.)[^\s,]+", re.IGNORECASE)
# query parameters that carry a credential (whole names, any case)
_CREDENTIAL_NAMES = (
    r"(?:token|access_token|api[-_]?key|key|client_secret|secret|password|sig|signature)"
)
_QUERY_CREDENTIAL = re.compile(rf"([?&]{_CREDENTIAL_NAMES}=)[^&#\s'\"]+", re.IGNORECASE)
_CREDENTIAL_NAME = re.compile(_CREDENTIAL_NAMES, re.IGNORECASE)
# the password of a URL's user information: scheme://user:PASSWORD@host
_URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^/\s:@]*:)[^/\s@]+(@)", re.IGNORECASE)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with credentials blanked as ``<redacted>``.

    Blanked: the values of credential headers (``Authorization``, ``api-key``, ...), keys in
    a browser subprotocol, credential query parameters of URLs (``token``, ``access_token``,
    ``api-key`` / ``api_key``, ``key``, ``client_secret``, ``secret``, ``password``, ``sig``,
    ``signature``), passwords in URLs (``ws://user:PASSWORD@host``) and every one of
    ``secrets``.
    """
    text = _CREDENTIAL_HEADER.sub(rf"\1{REDACTED}", text)
    text = _SUBPROTOCOL_KEY.sub(rf"\1{REDACTED}", text)
    text = _QUERY_CREDENTIAL.sub(rf"\1{REDACTED}", text)
    text = _URL_PASSWORD.sub(rf"\1{REDACTED}\2", text)
    return _blank(text, secrets)


def url_credentials(url: str) -> list[str]:
    """The credentials ``url`` carries: its password and the values of its credential query
    parameters (the names :func:`redact` blanks)."""
    parts = urlsplit(url)
    found = [value for name, value in parse_qsl(parts.query) if _CREDENTIAL_NAME.fullmatch(name)]
    if parts.password:
        found.append(parts.password)
    return found


def _opaque(value: object) -> None:
    """What a value JSON cannot hold reads as in :meth:`Redactor.value`'s first look: nothing
    (its strings are not walked either)."""
    return None


def _blank(text: str, secrets: Iterable[str]) -> str:
    """``text`` with each of ``secrets`` (an empty one excepted) as ``<redacted>``."""
    for secret in secrets:
        if secret and secret in text:
            text = text.replace(secret, REDACTED)
    return text


class Redactor:
    """The secrets of one connection, and the one way to take them out of what is shown.

    ``redactor(text)`` is :func:`redact` with these secrets; :meth:`value` blanks them in a
    value. A secret shorter than :data:`MIN_SECRET_CHARS` characters (or ``None``) is not
    kept: it would blank ordinary words.
    """

    __slots__ = ("_escaped", "_secrets")

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        self._secrets: tuple[str, ...] = ()
        self._escaped = False  # a secret holds a character JSON text escapes
        self.add(*secrets)

    def add(self, *secrets: str | None) -> None:
        """Know ``secrets`` too (from now on, for good)."""
        known = list(self._secrets)
        for secret in secrets:
            if isinstance(secret, str) and len(secret) >= MIN_SECRET_CHARS and secret not in known:
                known.append(secret)
        # longest first: a secret holding another is blanked whole
        self._secrets = tuple(sorted(known, key=len, reverse=True))
        self._escaped = any(json.dumps(s, ensure_ascii=False)[1:-1] != s for s in known)

    def __call__(self, text: str) -> str:
        """``text`` with credentials blanked (see :func:`redact`)."""
        return redact(text, self._secrets)

    def value(self, value: Any, *, text: str | None = None) -> Any:
        """``value`` with every secret blanked in its strings, dict keys included, through
        dicts, lists and tuples. Whatever holds no secret is returned as it is (the same
        object); what does is copied, never changed in place. ``text``, the JSON text
        ``value`` was just parsed from, is looked through instead of serialising the value
        again (a received event: its frame)."""
        if not self._secrets or not self._may_hold(value, text):
            return value
        return self._value(value)

    def _may_hold(self, value: Any, text: str | None) -> bool:
        """Whether a secret may be in ``value``: one pass of C over its JSON text first (a
        value of a thousand items is walked in Python in tens of milliseconds)."""
        if self._escaped:
            return True  # a secret JSON would escape cannot be found in the text
        if text is not None and "\\u" not in text:
            # no \u escape can spell a secret's characters: the text shows it if it holds it
            return any(secret in text for secret in self._secrets)
        try:
            text = json.dumps(value, ensure_ascii=False, default=_opaque)
        except (TypeError, ValueError, RecursionError):  # keys JSON cannot take: walk it all
            return True
        return any(secret in text for secret in self._secrets)

    def _value(self, value: Any) -> Any:
        if isinstance(value, str):
            return _blank(value, self._secrets)
        if isinstance(value, dict):
            pairs = [(self._value(k), self._value(v)) for k, v in value.items()]
            if any(
                p[0] is not k or p[1] is not v
                for p, (k, v) in zip(pairs, value.items(), strict=True)
            ):
                return dict(pairs)
            return value
        if isinstance(value, list | tuple):
            items = [self._value(v) for v in value]
            if any(new is not old for new, old in zip(items, value, strict=True)):
                return items if isinstance(value, list) else tuple(items)
            return value
        return value

    def __repr__(self) -> str:
        return f"Redactor({len(self._secrets)} secrets)"


class RedactingLogger(logging.LoggerAdapter):  # type: ignore[type-arg]
    """A logger adapter that redacts (see :func:`redact`) every message and argument, with
    the secrets of ``redactor``."""

    def __init__(self, name: str, redactor: Redactor) -> None:
        super().__init__(logging.getLogger(name), {})
        self._redactor = redactor

    def log(self, level: int, msg: Any, *args: Any, **kwargs: Any) -> None:
        if not self.isEnabledFor(level):
            return
        # format first: websockets passes a header's name and value as separate arguments
        try:
            text = str(msg) % args if args else str(msg)
        except (TypeError, ValueError):
            text = " ".join(str(part) for part in (msg, *args))
        self.logger.log(level, "%s", self._redactor(text), **kwargs)
