"""The notification channels: e-mail (the app's mailer), SMS (services.sms), Telegram's Bot API
sendMessage and Slack's chat.postMessage. Each raises ChannelError saying why, and whether trying again
can help (`final`) and when (`retry_after`, from a 429)."""
import json
from http.client import HTTPException
from urllib.parse import urlsplit

from .mailer import MailError, send_app_mail
from .sms import SmsError, send_sms
from .webhook_http import BlockedTarget, post_pinned, public_only


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


def retry_after_of(headers, body):
    for value in ((body.get("parameters") or {}).get("retry_after") if isinstance(body, dict) else None,
                  headers.get("Retry-After") if headers else None):
        try:
            return int(value)
        except (TypeError, ValueError):
            continue
    return None


def post_json(config, url, payload, headers=None):
    """POST JSON with a timeout and no redirects (SECURITY.md 26: only http(s), and no private or loopback
    address unless NOTIFY_ALLOW_PRIVATE); the decoded answer, or ChannelError."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ChannelError("the API URL is not an http(s) URL", final=True)
    headers = {"Content-Type": "application/json; charset=utf-8", **(headers or {})}
    try:
        answer = post_pinned(url, json.dumps(payload).encode(), headers, config["NOTIFY_HTTP_TIMEOUT"],
                             public_only(config["NOTIFY_ALLOW_PRIVATE"]), keep=65536)
    except BlockedTarget:
        raise ChannelError(f"{parts.hostname} is a private address (set NOTIFY_ALLOW_PRIVATE)", final=True) from None
    except (OSError, ValueError, HTTPException) as exc:
        raise ChannelError(f"unreachable: {exc}") from None
    try:
        body = json.loads(answer.body or b"{}")
    except ValueError:
        body = {}
    if not 200 <= answer.status < 300:
        # 4xx other than 429 will not get better by trying again (bad token, unknown chat)
        final = 400 <= answer.status < 500 and answer.status not in (408, 429)
        retry_after = retry_after_of({name.title(): value for name, value in answer.headers}, body)
        raise ChannelError(f"answered {answer.status}", final=final, retry_after=retry_after)
    return body


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
