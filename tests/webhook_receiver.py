"""A real HTTP receiver on 127.0.0.1 for the webhook tests: records every request and answers as told."""
import http.server
import threading
import time
from contextlib import contextmanager


class Receiver:
    def __init__(self):
        self.requests = []  # (path, headers dict, body bytes)
        self.mode = "ok"  # ok | 500 | hang | redirect | trickle
        self.release = threading.Event()
        self.url = ""
        self.answer = b"ok"  # the body of every answer (a long one shows the 4 KB cut in the log)

    def bodies(self):
        return [body for _path, _headers, body in self.requests]


def handler_for(receiver):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_POST(self):
            length = int(self.headers.get("Content-Length", 0))
            body = self.rfile.read(length)
            receiver.requests.append((self.path, dict(self.headers), body))
            mode = receiver.mode
            if mode == "hang":
                receiver.release.wait(30)
                return
            if mode == "trickle":  # one header byte at a time, never finishing within the timeout
                self.wfile.write(b"HTTP/1.1 200 OK\r\n")
                for _ in range(60):
                    if receiver.release.is_set():
                        return
                    try:
                        self.wfile.write(b"X")
                        self.wfile.flush()
                    except OSError:
                        return
                    time.sleep(0.2)
                return
            status = {"ok": 200, "500": 500, "redirect": 302}[mode]
            self.send_response(status)
            if mode == "redirect":
                self.send_header("Location", receiver.url + "redirected")
            self.send_header("Content-Length", str(len(receiver.answer)))
            self.send_header("X-Receiver", "kabinet-tests")
            self.end_headers()
            self.wfile.write(receiver.answer)

    return Handler


class Server(http.server.ThreadingHTTPServer):
    # The default listen backlog of 5 overflowed when four delivery workers connected at once on a busy
    # machine, and a connection was reset (test_concurrent_workers_never_send_a_delivery_twice in CI).
    request_queue_size = 128
    daemon_threads = True


@contextmanager
def receiver_on_localhost():
    receiver = Receiver()
    server = Server(("127.0.0.1", 0), handler_for(receiver))
    receiver.url = f"http://127.0.0.1:{server.server_port}/hooks/"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.release.set()
        server.shutdown()
        server.server_close()
