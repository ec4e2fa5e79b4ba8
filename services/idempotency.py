"""Idempotent API requests: the same Idempotency-Key twice gives one effect and the same answer.

Insert first: the request's row (organization, key) goes in at the start of the transaction that makes
the effect, and its answer is written into it before the commit. A second request with the key — also
one racing the first on PostgreSQL — blocks on the unique index until the first commits, gets the
IntegrityError, and reads the stored answer; when the first rolls back, the second goes ahead itself.
On SQLite writers are serialized by the database lock, so the same code holds. A key seen with another
method, path or body is refused (Mismatch). Validation happens before: a refused request uses no key.
Rows are kept for KEEP_DAYS (`forget_old`)."""
import hashlib
import json
from datetime import timedelta

import peewee as pw

from models import IdempotencyRecord, db, utcnow

KEEP_DAYS = 30
HEADER = "Idempotency-Key"
KEY_SCHEMA = {"type": "string", "minLength": 1, "maxLength": 100, "pattern": "^[!-~]+$",
              "description": "A unique value per intended effect (a UUID, say); repeat it to retry safely"}


class Mismatch(Exception):
    """The key was used for another request."""


def fingerprint(method, path, body):
    text = json.dumps([method, path, body], sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def once(organization_id, key, request_hash, action):
    """(status, body, replayed): `action()` -> (status, JSON-able body) run once for (organization, key)."""
    with db.atomic():
        try:
            with db.atomic():  # a savepoint: the failed insert must not spoil the transaction (PostgreSQL)
                record = IdempotencyRecord.create(organization=organization_id, key=key, request_hash=request_hash)
        except pw.IntegrityError:
            record = None
        if record is None:
            stored = IdempotencyRecord.get(IdempotencyRecord.organization == organization_id,
                                           IdempotencyRecord.key == key)
            if stored.request_hash != request_hash:
                raise Mismatch()
            return stored.status, json.loads(stored.body), True
        status, body = action()
        IdempotencyRecord.update(status=status, body=json.dumps(body, ensure_ascii=False)).where(
            IdempotencyRecord.id == record.id).execute()
        return status, body, False


def forget_old(now=None):
    """Remove answers older than KEEP_DAYS; returns how many."""
    limit = (now or utcnow()) - timedelta(days=KEEP_DAYS)
    return IdempotencyRecord.delete().where(IdempotencyRecord.created_at < limit).execute()
