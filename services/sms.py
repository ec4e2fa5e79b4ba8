"""Text messages through the backend named by SMS_BACKEND; adding a provider is one class in BACKENDS."""
import json
import logging
from http.client import HTTPException
from pathlib import Path
from urllib.parse import urlsplit

from models import utcnow

from .webhook_http import BlockedTarget, post_pinned, public_only

log = logging.getLogger(__name__)


class SmsError(Exception):
    """The message could not be handed to the backend; the text says why (never the message itself)."""


class ConsoleSms:
    """Development: the text goes to the console and to instance/sms-outbox.jsonl, one JSON object a line."""

    name = "console"

    def __init__(self, config):
        self.outbox = Path(config["INSTANCE_PATH"]) / "sms-outbox.jsonl"

    def send(self, to, text):
        line = json.dumps({"at": utcnow().isoformat() + "Z", "to": to, "text": text}, ensure_ascii=False)
        try:
            with self.outbox.open("a", encoding="utf-8") as f:
                f.write(line + "\n")
        except OSError as exc:
            raise SmsError(f"cannot write {self.outbox}: {exc.strerror}") from None
        print(f"\n--- SMS to {to}: {text}\n--- appended to {self.outbox}\n", flush=True)


class HttpSms:
    """A JSON POST {"to", "text", "sender"} to SMS_HTTP_URL with a bearer token; any 2xx is success."""

    name = "http"

    def __init__(self, config):
        self.url = config["SMS_HTTP_URL"]
        self.token = config["SMS_HTTP_TOKEN"]
        self.sender = config["SMS_SENDER"]
        self.timeout = config["SMS_HTTP_TIMEOUT"]
        self.allow_private = config["SMS_HTTP_ALLOW_PRIVATE"]

    def send(self, to, text):
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SmsError("SMS_HTTP_URL is not an http(s) URL")
        body = json.dumps({"to": to, "text": text, "sender": self.sender}).encode()
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {self.token}"}
        try:
            answer = post_pinned(self.url, body, headers, self.timeout, public_only(self.allow_private))
        except BlockedTarget:
            raise SmsError(f"{parts.hostname} is a private address (set SMS_HTTP_ALLOW_PRIVATE to allow it)") from None
        except (OSError, ValueError, HTTPException) as exc:
            raise SmsError(f"gateway unreachable: {exc}") from None
        if not 200 <= answer.status < 300:  # a 3xx too: SECURITY.md 26, redirects are never followed
            raise SmsError(f"gateway answered {answer.status}")


BACKENDS = {backend.name: backend for backend in (ConsoleSms, HttpSms)}


def send_sms(config, to, text):
    """Send `text` to the E.164 number `to`; raises SmsError (already logged) when it cannot."""
    backend = BACKENDS.get(config["SMS_BACKEND"])
    try:
        if backend is None:
            raise SmsError(f"unknown SMS_BACKEND {config['SMS_BACKEND']!r}")
        backend(config).send(to, text)
    except SmsError as exc:
        log.warning("SMS to %s failed: %s", to, exc)
        raise
