"""Signing webhook deliveries: Kabinet's own headers and the Standard Webhooks ones (services.webhooks).

Kabinet-Signature: `v1=<hex HMAC-SHA256 of "<timestamp>.<body>">`, keyed with the secret string as
it was shown (`whsec_…`, its UTF-8 bytes). While a rotated secret's overlap lasts, both secrets sign
and the header carries both values, newest first, separated by a comma: `v1=<new>,v1=<old>`.

Standard Webhooks (https://www.standardwebhooks.com/): `webhook-id` (the event's id, the same on
every retry), `webhook-timestamp` (Unix seconds) and `webhook-signature: v1,<base64 HMAC-SHA256 of
"<webhook-id>.<timestamp>.<body>">`, keyed with the secret's base64 part decoded (`whsec_<base64>`),
several signatures separated by spaces. The `standardwebhooks` package verifies them as they are.
"""
import base64
import binascii
import hashlib
import hmac
import re
import time

SEPARATORS = re.compile(r"[,\s]+")


def signature(secret, timestamp, body):
    """v1 signature: hex HMAC-SHA256 over "<timestamp>.<body>" (body as the exact bytes sent)."""
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def kabinet_signature(secrets, timestamp, body):
    """The Kabinet-Signature header for every secret that signs now (newest first)."""
    return ",".join("v1=" + signature(secret, timestamp, body) for secret in secrets)


def verify(secret, timestamp, body, header, tolerance=300, now=None):
    """What a receiver does (see the README): check the age, then look for a matching v1 value among the
    comma- or space-separated ones, comparing in constant time."""
    now = time.time() if now is None else now
    try:
        if abs(now - int(timestamp)) > tolerance:
            return False
    except (TypeError, ValueError):
        return False
    expected = "v1=" + signature(secret, timestamp, body)
    found = False
    for value in SEPARATORS.split(header or ""):
        found |= hmac.compare_digest(expected, value)  # every value compared: no early exit
    return found


def standard_key(secret):
    """The HMAC key of the Standard Webhooks signature: the base64 after `whsec_`, decoded as the
    standardwebhooks libraries do. Secrets made before Kabinet switched to standard base64 (URL-safe ones) are
    decoded URL-safe; rotate them to use those libraries unchanged."""
    encoded = secret.removeprefix("whsec_")
    decode = base64.urlsafe_b64decode if ("-" in encoded or "_" in encoded) else base64.b64decode
    try:
        return decode(encoded + "==")  # extra padding is ignored, missing padding is not an error
    except (binascii.Error, ValueError):
        return secret.encode()


def standard_signature(secrets, message_id, timestamp, body):
    """The webhook-signature header: `v1,<base64>` per signing secret, separated by spaces."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    return " ".join(
        "v1," + base64.b64encode(hmac.new(standard_key(s), signed, hashlib.sha256).digest()).decode() for s in secrets
    )


def headers(secrets, event, delivery_id, message_id, timestamp, body):
    """Every signing header of one attempt."""
    return {
        "Kabinet-Event": event, "Kabinet-Delivery": str(delivery_id), "Kabinet-Timestamp": timestamp,
        "Kabinet-Signature": kabinet_signature(secrets, timestamp, body),
        "webhook-id": message_id, "webhook-timestamp": timestamp,
        "webhook-signature": standard_signature(secrets, message_id, timestamp, body),
    }
