#!/usr/bin/env python3
"""A client of Kabinet's JSON API for a product that reports to it — the Python standard library only.

    export KABINET_URL=https://kabinet.example.com KABINET_KEY=kabs_…
    python3 kabinet_client.py charge 150.00 "SMS mailing, 1500 messages"
    python3 kabinet_client.py event request.status_changed '{"ref": "R-1042", "status": "In progress"}'

Every write carries an Idempotency-Key, made here once per call and sent again on each retry: a request
whose answer was lost (a timeout, a dropped connection, a 5xx or a 429) is retried safely — Kabinet makes
the change once and answers the retry with the stored answer.
"""
import json
import sys
import time
import urllib.error
import urllib.request
import uuid
from os import environ


class KabinetError(Exception):
    """An error answer: `status`, `code`, `message` and, for invalid input, `fields` ({field: [message]})."""

    def __init__(self, status, body):
        self.status, self.code = status, body.get("code", "error")
        self.fields = body.get("fields", {})
        super().__init__(f"{status} {self.code}: {body.get('message', '')} {self.fields or ''}".strip())


class Kabinet:
    def __init__(self, base_url, key, timeout=10, retries=3, language="en"):
        self.base = base_url.rstrip("/") + "/api/v1"
        self.key, self.timeout, self.retries, self.language = key, timeout, retries, language

    def request(self, method, path, body=None, idempotency_key=None):
        """The JSON answer; retried on a network error, 429 or 5xx with the same Idempotency-Key."""
        headers = {"Authorization": f"Bearer {self.key}", "Accept": "application/json",
                   "Accept-Language": self.language}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        for attempt in range(self.retries + 1):
            request = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    return json.loads(response.read() or b"{}")
            except urllib.error.HTTPError as error:
                answer = json.loads(error.read() or b"{}")
                if (error.code == 429 or error.code >= 500) and attempt < self.retries:
                    time.sleep(min(int(error.headers.get("Retry-After") or 2 ** attempt), 30))
                    continue
                raise KabinetError(error.code, answer) from None
            except (urllib.error.URLError, TimeoutError, ConnectionError):
                if attempt == self.retries:
                    raise
                time.sleep(2 ** attempt)
        raise AssertionError("unreachable")

    def write(self, path, body, idempotency_key=None):
        return self.request("POST", path, body, idempotency_key or str(uuid.uuid4()))

    # --- what a product reports ---

    def charge(self, amount, description, invoice_id=None, idempotency_key=None):
        body = {"amount": str(amount), "description": description, **({"invoice_id": invoice_id} if invoice_id else {})}
        return self.write("/balance/charges", body, idempotency_key)

    def credit(self, amount, description, invoice_id=None, idempotency_key=None):
        body = {"amount": str(amount), "description": description, **({"invoice_id": invoice_id} if invoice_id else {})}
        return self.write("/balance/credits", body, idempotency_key)

    def event(self, event_type, data=None, user_ids=None, idempotency_key=None):
        body = {"type": event_type, "data": data or {}, **({"user_ids": user_ids} if user_ids is not None else {})}
        return self.write("/events", body, idempotency_key)

    def notify(self, category, title, text, user_id=None, permission=None, idempotency_key=None):
        """`title` and `text`: {"en": …, "ru": …}; `user_id` or `permission` says who is told."""
        body = {"category": category, "title": title, "text": text,
                **({"user_id": user_id} if user_id else {"permission": permission})}
        return self.write("/notifications", body, idempotency_key)

    def start_operation(self, title, total=None, user_id=None):
        body = {"title": title, **({"total": total} if total is not None else {}),
                **({"user_id": user_id} if user_id else {})}
        return self.request("POST", "/operations", body)

    def progress(self, operation_id, done=None, total=None, percent=None, status_line=None):
        body = {k: v for k, v in (("done", done), ("total", total), ("percent", percent),
                                  ("status_line", status_line)) if v is not None}
        return self.request("POST", f"/operations/{int(operation_id)}/progress", body)

    def finish(self, operation_id, result="", result_url=""):
        return self.request("POST", f"/operations/{int(operation_id)}/finish", {"result": result, "result_url": result_url})

    def fail(self, operation_id, error):
        return self.request("POST", f"/operations/{int(operation_id)}/fail", {"error": error})


def main(argv):
    client = Kabinet(environ["KABINET_URL"], environ["KABINET_KEY"])
    command, args = (argv[0], argv[1:]) if argv else ("help", [])
    try:
        if command in ("charge", "credit") and len(args) >= 2:
            answer = getattr(client, command)(args[0], args[1], idempotency_key=args[2] if len(args) > 2 else None)
        elif command == "event" and args:
            answer = client.event(args[0], json.loads(args[1]) if len(args) > 1 else {})
        else:
            print(__doc__.strip(), file=sys.stderr)
            return 2
    except KabinetError as error:
        print(error, file=sys.stderr)
        return 1
    print(json.dumps(answer, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
