"""Helpers shared by the security tests: the mail the app wrote, TOTP codes, a signed-in client with 2FA."""
import email
import email.policy
import re
import time
from pathlib import Path

import pyotp

from models import TotpSecret
from tests.conftest import csrf_from

HTMX = {"HX-Request": "true"}


def outbox(app):
    """Messages the app mailed (to instance/outbox/ when no MAIL_HOST is set), oldest first."""
    folder = Path(app.config["INSTANCE_PATH"]) / "outbox"
    files = sorted(folder.glob("*.eml"), key=lambda f: f.stat().st_mtime_ns) if folder.exists() else []
    return [email.message_from_bytes(f.read_bytes(), policy=email.policy.default) for f in files]


def last_code(app):
    """The 6-digit code in the newest mail."""
    body = outbox(app)[-1].get_body().get_content()
    return re.search(r"\b(\d{6})\b", body).group(1)


def htmx_post(client, url, data, page):
    token = csrf_from(client.get(page).get_data(as_text=True))
    return client.post(url, data=data, headers={**HTMX, "X-CSRFToken": token})


def totp_code(user, offset_steps=0):
    secret = TotpSecret.get(TotpSecret.user == user).secret
    return pyotp.TOTP(secret).at(time.time() + 30 * offset_steps)


def setup_totp(client):
    """Turn on TOTP for the signed-in person the way the page does; returns (secret, recovery codes)."""
    html = client.get("/app/security/2fa/totp").get_data(as_text=True)
    secret = re.search(r'id="totp-secret"[^>]*>([A-Z2-7]+)<', html).group(1)
    response = client.post(
        "/app/security/2fa/totp", data={"csrf_token": csrf_from(html), "code": pyotp.TOTP(secret).now()}
    )
    assert response.status_code == 303, response.get_data(as_text=True)[:800]
    page = client.get("/app/security/recovery-codes").get_data(as_text=True)
    codes = re.findall(r"<li><code>([a-z0-9]{5}-[a-z0-9]{5})</code></li>", page)
    return secret, codes
