"""Scripted HTTP servers on 127.0.0.1 standing in for the SMS gateway, Telegram's Bot API and Slack's Web API.

Each request takes the next behaviour from `script` (then `default`): an int status (200 answers the
service's success body), "hang" (say nothing for `hang_seconds`), "drop" (close the connection unanswered)
or a callable run before dropping. Requests answered 200 are kept in `delivered`."""
import json
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class HttpPeer:
    def __init__(self, script=(), default=200, hang_seconds=3.0, ok_body=None):
        self.script = list(script)
        self.default = default
        self.hang_seconds = hang_seconds
        self.ok_body = ok_body if ok_body is not None else {"ok": True}
        self.requests = []  # (path, headers, json body) of every request
        self.delivered = []  # json bodies answered 200
        self.lock = threading.Lock()
        peer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                with peer.lock:
                    peer.requests.append((self.path, dict(self.headers), body))
                    action = peer.script.pop(0) if peer.script else peer.default
                if callable(action):
                    action()
                    action = "drop"
                if action == "hang":
                    time.sleep(peer.hang_seconds)
                    return
                if action == "drop":
                    self.close_connection = True
                    return
                answer = peer.ok_body if action == 200 else {"ok": False, "description": "try later",
                                                             "parameters": {"retry_after": 1}}
                data = json.dumps(answer).encode()
                if action == 200:  # recorded before answering: the sender may look as soon as it has the answer
                    with peer.lock:
                        peer.delivered.append(body)
                self.send_response(action)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if action == 429:
                    self.send_header("Retry-After", "1")
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def texts(self, key="text"):
        with self.lock:
            return [body.get(key) for body in self.delivered]


@contextmanager
def http_peer(**kwargs):
    peer = HttpPeer(**kwargs)
    thread = threading.Thread(target=peer.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield peer
    finally:
        peer.server.shutdown()
        peer.server.server_close()
