"""A logger for websockets that never writes credentials.

websockets logs the handshake's header lines at debug level, ``Authorization`` and
``api-key`` included. :class:`RedactingLogger` is handed to it instead of a plain logger: it
blanks the value of every credential header, the key carried in a browser subprotocol
(``openai-insecure-api-key.KEY``), and any secret it is given, in the message and in each
argument, before anything reaches a handler.
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
_QUERY_TOKEN = re.compile(r"([?&](?:token|api-key|api_key)=)[^&\s]+", re.IGNORECASE)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with credential header values, subprotocol keys and ``secrets`` blanked."""
    text = _CREDENTIAL_HEADER.sub(r"\1<redacted>", text)
    text = _SUBPROTOCOL_KEY.sub(r"\1<redacted>", text)
    text = _QUERY_TOKEN.sub(r"\1<redacted>", text)
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
