"""The notification channels: e-mail (the app's mailer), SMS (services.sms), Telegram's Bot API
sendMessage and Slack's chat.postMessage. Each raises ChannelError saying why, and whether trying again
can help (`final`) and when (`retry_after`, from a 429)."""
import ipaddress
import json
import socket
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from .mailer import MailError, send_app_mail
from .sms import SmsError, _NoRedirect, send_sms


class ChannelError(Exception):
    def __init__(self, message, final=False, retry_after=None):
        super().__init__(message)
        self.final = final
        self.retry_after = retry_after


def send_email(config, to, subject, text):
    try:
        send_app_mail(config, to, subject, text)
    except MailError as exc:
        raise ChannelError(f"mail: {exc}") from None


def send_sms_text(config, to, text):
    try:
        send_sms(config, to, text[:600])
    except SmsError as exc:
        raise ChannelError(f"sms: {exc}") from None


def check_target(url, allow_private):
    """SECURITY.md 26: only http(s), and no private or loopback address unless NOTIFY_ALLOW_PRIVATE."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ChannelError("the API URL is not an http(s) URL", final=True)
    if allow_private:
        return
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(parts.hostname, parts.port or 443)}
    except OSError as exc:
        raise ChannelError(f"cannot resolve {parts.hostname}: {exc}") from None
    for address in addresses:
        if not ipaddress.ip_address(address.split("%")[0]).is_global:
            raise ChannelError(f"{parts.hostname} is a private address (set NOTIFY_ALLOW_PRIVATE)", final=True)


def retry_after_of(headers, body):
    for value in ((body.get("parameters") or {}).get("retry_after") if isinstance(body, dict) else None,
                  headers.get("Retry-After") if headers else None):
        try:
            return int(value)
        except (TypeError, ValueError):
            continue
    return None


def post_json(config, url, payload, headers=None):
    """POST JSON with a timeout and no redirects; the decoded answer, or ChannelError."""
    check_target(url, config["NOTIFY_ALLOW_PRIVATE"])
    request = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST",
                                     headers={"Content-Type": "application/json; charset=utf-8", **(headers or {})})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect)
    try:
        with opener.open(request, timeout=config["NOTIFY_HTTP_TIMEOUT"]) as response:
            raw = response.read(65536)
    except urllib.error.HTTPError as exc:
        try:
            body = json.loads(exc.read(65536) or b"{}")
        except (ValueError, OSError):
            body = {}
        # 4xx other than 429 will not get better by trying again (bad token, unknown chat)
        final = 400 <= exc.code < 500 and exc.code not in (408, 429)
        raise ChannelError(f"answered {exc.code}", final=final, retry_after=retry_after_of(exc.headers, body)) from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise ChannelError(f"unreachable: {getattr(exc, 'reason', exc)}") from None
    try:
        return json.loads(raw or b"{}")
    except ValueError:
        return {}


def send_telegram(config, chat_id, text):
    url = f"{config['TELEGRAM_API_URL'].rstrip('/')}/bot{config['TELEGRAM_BOT_TOKEN']}/sendMessage"
    answer = post_json(config, url, {"chat_id": chat_id, "text": text[:4096], "disable_web_page_preview": True})
    if isinstance(answer, dict) and answer.get("ok") is False:
        raise ChannelError(f"telegram: {str(answer.get('description', 'not ok'))[:200]}", final=True)


def send_slack(config, channel, text):
    url = f"{config['SLACK_API_URL'].rstrip('/')}/chat.postMessage"
    answer = post_json(config, url, {"channel": channel, "text": text[:4000]},
                       {"Authorization": f"Bearer {config['SLACK_BOT_TOKEN']}"})
    if isinstance(answer, dict) and answer.get("ok") is False:  # Slack answers 200 with ok:false
        error = str(answer.get("error", "not ok"))[:200]
        raise ChannelError(f"slack: {error}", final=error not in ("ratelimited", "internal_error", "fatal_error"))
