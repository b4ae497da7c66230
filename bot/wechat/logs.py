"""Keep WeChat credentials and user ids out of other libraries' log lines.

httpx logs every request URL at INFO, and WeChat's API takes the access token as a query
parameter; uvicorn's access log prints the webhook's query string (openid, signatures). Our own
code never logs them; these filters catch the libraries, whatever the log level and whichever
handler prints them, and mask personal data in the same lines (``nlu.pii``).
"""

from __future__ import annotations

import logging
import re

from nlu.pii import mask

_SECRET_PARAMS = re.compile(
    r"((?:access_token|openid|signature|msg_signature|echostr|secret|appsecret|corpsecret)=)[^&\s\"']+",
    re.IGNORECASE,
)


class RedactWeChat(logging.Filter):
    """Replaces the values of credential and id query parameters with ``***`` and masks
    personal data (a phone number in a URL's query, say)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = mask(_SECRET_PARAMS.sub(r"\1***", message))
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def install() -> None:
    """Attach the filter to the loggers that print URLs (idempotent)."""
    for name in ("httpx", "httpcore", "urllib3.connectionpool", "uvicorn.access", "uvicorn.error"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactWeChat) for f in logger.filters):
            logger.addFilter(RedactWeChat())
