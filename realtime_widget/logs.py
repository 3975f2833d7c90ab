"""A logger for websockets that never writes credentials.

websockets logs the handshake's header lines at debug level, ``Authorization`` and
``api-key`` included. :class:`RedactingLogger` is handed to it instead of a plain logger: it
blanks (see :func:`redact`) the value of every credential header, the key carried in a
browser subprotocol (``openai-insecure-api-key.KEY``), credentials in a URL and any secret it
is given, in the message and in each argument, before anything reaches a handler.
:func:`redact` is also what makes a URL fit to display (reprs, log lines, error messages).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any

__all__ = ["RedactingLogger", "redact"]

_CREDENTIAL_HEADER = re.compile(
    r"(?im)^([<>]?\s*(?:authorization|api-key|openai-api-key|x-api-key)\s*:\s*)(\S.*)$"
)
_SUBPROTOCOL_KEY = re.compile(r"(openai-insecure-api-key\.)[^\s,]+", re.IGNORECASE)
# query parameters that carry a credential (whole names, any case)
_QUERY_CREDENTIAL = re.compile(
    r"([?&](?:token|access_token|api[-_]?key|key|client_secret|secret|password|sig|signature)=)"
    r"[^&#\s'\"]+",
    re.IGNORECASE,
)
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
    text = _CREDENTIAL_HEADER.sub(r"\1<redacted>", text)
    text = _SUBPROTOCOL_KEY.sub(r"\1<redacted>", text)
    text = _QUERY_CREDENTIAL.sub(r"\1<redacted>", text)
    text = _URL_PASSWORD.sub(r"\1<redacted>\2", text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "<redacted>")
    return text


class RedactingLogger(logging.LoggerAdapter):  # type: ignore[type-arg]
    """A logger adapter that redacts (see :func:`redact`) every message and argument."""

    def __init__(self, name: str, secrets: Iterable[str | None] = ()) -> None:
        super().__init__(logging.getLogger(name), {})
        self._secrets = tuple(s for s in secrets if s)

    def log(self, level: int, msg: Any, *args: Any, **kwargs: Any) -> None:
        if not self.isEnabledFor(level):
            return
        # format first: websockets passes a header's name and value as separate arguments
        try:
            text = str(msg) % args if args else str(msg)
        except (TypeError, ValueError):
            text = " ".join(str(part) for part in (msg, *args))
        self.logger.log(level, "%s", redact(text, self._secrets), **kwargs)
