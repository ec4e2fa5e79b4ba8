"""Text messages through the backend named by SMS_BACKEND; adding a provider is one class in BACKENDS."""
import ipaddress
import json
import logging
import socket
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

from models import utcnow

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


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # SECURITY.md 26: a 3xx becomes an error instead of being followed


class HttpSms:
    """A JSON POST {"to", "text", "sender"} to SMS_HTTP_URL with a bearer token; any 2xx is success."""

    name = "http"

    def __init__(self, config):
        self.url = config["SMS_HTTP_URL"]
        self.token = config["SMS_HTTP_TOKEN"]
        self.sender = config["SMS_SENDER"]
        self.timeout = config["SMS_HTTP_TIMEOUT"]
        self.allow_private = config["SMS_HTTP_ALLOW_PRIVATE"]

    def check_target(self):
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SmsError("SMS_HTTP_URL is not an http(s) URL")
        if self.allow_private:
            return
        try:
            addresses = {info[4][0] for info in socket.getaddrinfo(parts.hostname, parts.port or 443)}
        except OSError as exc:
            raise SmsError(f"cannot resolve {parts.hostname}: {exc}") from None
        for address in addresses:
            ip = ipaddress.ip_address(address.split("%")[0])
            if not ip.is_global:
                raise SmsError(f"{parts.hostname} is a private address (set SMS_HTTP_ALLOW_PRIVATE to allow it)")

    def send(self, to, text):
        self.check_target()
        body = json.dumps({"to": to, "text": text, "sender": self.sender}).encode()
        request = urllib.request.Request(
            self.url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {self.token}"},
        )
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect)
        try:
            with opener.open(request, timeout=self.timeout) as response:
                response.read(65536)
        except urllib.error.HTTPError as exc:
            raise SmsError(f"gateway answered {exc.code}") from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise SmsError(f"gateway unreachable: {reason}") from None


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
