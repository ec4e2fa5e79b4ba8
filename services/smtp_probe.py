"""Is this SMTP server reachable and does it accept these credentials? A bounded, never-raising check."""
import smtplib
import socket
import ssl
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from typing import Callable, Iterable, TypeVar

REFUSED = "refused"
TIMEOUT = "timeout"
TLS = "tls"
AUTH = "auth"
DNS = "dns"
PROTOCOL = "protocol"

SECURITY_MODES = ("ssl", "starttls", "none")
_DETAIL_LIMIT = 200

T = TypeVar("T")


@dataclass(frozen=True)
class ProbeResult:
    online: bool
    reason: str | None  # one of the constants above, None when online
    reply_code: int | None  # the SMTP code behind a failure, when the server gave one
    detail: str  # short English text for logs; never the password


class _Deadline:
    """smtplib mixin: every connect, send, read and TLS handshake gets only the time left."""

    _deadline: float
    _addresses = None  # getaddrinfo answers checked beforehand: connect to these, not to a new lookup

    def _left(self) -> float:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("deadline passed")
        return left

    def _connect(self, host, port):
        # Our own loop instead of socket.create_connection: that one gives each address the full timeout.
        error = OSError(f"no address for {host}")
        infos = self._addresses or socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        for family, kind, proto, _, address in infos:
            sock = socket.socket(family, kind, proto)
            try:
                sock.settimeout(self._left())
                sock.connect(address)
                sock.settimeout(self._left())
                return sock
            except OSError as exc:
                sock.close()
                error = exc
        raise error

    def send(self, s):
        if self.sock:
            self.sock.settimeout(self._left())  # sendall's timeout covers the whole call
        super().send(s)

    def getreply(self):
        if self.file is None and self.sock is not None:
            self.file = _DeadlineReader(self.sock, self._left)
        reply = super().getreply()
        # smtplib's own blocking calls after a reply (the STARTTLS handshake) must not outlive the deadline.
        try:
            self.sock.settimeout(self._left())
        except TimeoutError:
            self.close()  # the greeting is read inside __init__, where nobody else could close it
            raise
        return reply


class _ProbeSMTP(_Deadline, smtplib.SMTP):
    def __init__(self, host, port, deadline, context, addresses=None):
        self._deadline, self._addresses = deadline, addresses
        # A placeholder name so smtplib skips socket.getfqdn(), a DNS lookup no timeout covers.
        super().__init__(host, port, local_hostname="localhost", timeout=self._left())
        self.local_hostname = _address_literal(self.sock)

    def _get_socket(self, host, port, timeout):
        return self._connect(host, port)


class _ProbeSMTPSSL(_Deadline, smtplib.SMTP_SSL):
    def __init__(self, host, port, deadline, context, addresses=None):
        self._deadline, self._addresses = deadline, addresses
        super().__init__(host, port, local_hostname="localhost", timeout=self._left(), context=context)
        self.local_hostname = _address_literal(self.sock)

    def _get_socket(self, host, port, timeout):
        sock = self._connect(host, port)
        try:
            return self.context.wrap_socket(sock, server_hostname=host)
        except BaseException:
            sock.close()
            raise


class _DeadlineReader:
    """The file smtplib reads replies from: gives up at the deadline however slowly bytes trickle in."""

    def __init__(self, sock, left):
        self._sock, self._left, self._buffer = sock, left, b""

    def readline(self, limit):
        while b"\n" not in self._buffer and len(self._buffer) < limit:
            self._sock.settimeout(self._left())
            chunk = self._sock.recv(4096)
            if not chunk:
                break
            self._buffer += chunk
        end = min(self._buffer.find(b"\n") + 1 or len(self._buffer), limit)
        line, self._buffer = self._buffer[:end], self._buffer[end:]
        return line

    def close(self):
        self._buffer = b""


def _address_literal(sock):
    # RFC 5321 allows an address literal in EHLO when there is no name we can vouch for.
    address = sock.getsockname()[0]
    return f"[IPv6:{address}]" if ":" in address else f"[{address}]"


@cache
def _default_context():
    # Loading the system CA store costs milliseconds of CPU; a cycle of hundreds of checks shares one.
    return ssl.create_default_context()


def check_smtp(
    host: str,
    port: int,
    security: str,
    username: str | None,
    password: str | None,
    timeout: float = 10.0,
    ssl_context: ssl.SSLContext | None = None,
    addresses: list | None = None,
) -> ProbeResult:
    """Connect, EHLO, STARTTLS and AUTH as configured, then QUIT; all within `timeout` seconds. With
    `addresses` (getaddrinfo answers checked beforehand) the connection goes to those, not to a new lookup."""
    if security not in SECURITY_MODES:
        return ProbeResult(False, PROTOCOL, None, f"unknown security mode {security!r}")
    deadline = time.monotonic() + timeout
    step = "connect"
    smtp = None
    try:
        context = ssl_context or (_default_context() if security != "none" else None)
        smtp_class = _ProbeSMTPSSL if security == "ssl" else _ProbeSMTP
        smtp = smtp_class(host, port, deadline, context, addresses)
        step = "ehlo"
        smtp.ehlo_or_helo_if_needed()
        if security == "starttls":
            step = "starttls"
            smtp.starttls(context=context)
            step = "ehlo"
            smtp.ehlo_or_helo_if_needed()
        if username:
            step = "auth"
            smtp.login(username, password or "")
        step = "quit"
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            pass  # it answered everything we asked; a rude goodbye is not an outage
        done = "AUTH accepted" if username else "EHLO answered"
        return ProbeResult(True, None, None, f"{done} ({security}) in {timeout - (deadline - time.monotonic()):.2f}s")
    except Exception as exc:
        return _failure(exc, step, password)
    finally:
        if smtp is not None:
            smtp.close()


def _failure(exc, step, password):
    """Map what went wrong, and at which step, to a ProbeResult."""
    code = getattr(exc, "smtp_code", None)
    code = code if isinstance(code, int) and code > 0 else None
    detail = _describe(exc)
    disconnected = isinstance(exc, smtplib.SMTPServerDisconnected)
    if _timed_out(exc):
        reason = TIMEOUT
    elif isinstance(exc, socket.gaierror):
        reason = DNS
    elif isinstance(exc, ssl.SSLError):
        reason = TLS
    elif isinstance(exc, ConnectionRefusedError):
        reason = REFUSED
    elif step == "connect" and isinstance(exc, OSError) and not isinstance(exc, smtplib.SMTPException):
        reason = REFUSED  # unreachable host or network: there was nothing to talk to
    elif step == "auth" and isinstance(exc, UnicodeError):
        reason = AUTH
        detail = "username or password has non-ASCII characters, which smtplib cannot send"
    elif step == "auth" and isinstance(exc, smtplib.SMTPException) and not disconnected:
        reason = AUTH
    elif step == "starttls" and isinstance(exc, smtplib.SMTPException) and not disconnected:
        reason = TLS
    else:
        reason = PROTOCOL
    detail = f"{step}: {detail}"
    if password:
        detail = detail.replace(password, "***")
    return ProbeResult(False, reason, code, detail[:_DETAIL_LIMIT])


def _timed_out(exc):
    # smtplib turns a read timeout into SMTPServerDisconnected; the TimeoutError survives as its context.
    while exc is not None:
        if isinstance(exc, TimeoutError):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _describe(exc):
    if isinstance(exc, smtplib.SMTPResponseException):
        message = exc.smtp_error
        if isinstance(message, bytes):
            message = message.decode("utf-8", "replace")
        return f"{exc.smtp_code} {' '.join(message.split())}"
    return f"{type(exc).__name__}: {exc}".rstrip(": ")


def check_many(
    targets: Iterable[T],
    probe: Callable[[T], ProbeResult],
    max_workers: int = 32,
) -> list[tuple[T, ProbeResult]]:
    """Probe all targets concurrently, at most `max_workers` at a time; results in the targets' order."""
    targets = list(targets)
    if not targets:
        return []

    def guarded(target):
        # One broken target (or a bug in the probe) must not cost the others their results.
        try:
            return probe(target)
        except Exception as exc:
            return ProbeResult(False, PROTOCOL, None, f"probe raised {_describe(exc)}"[:_DETAIL_LIMIT])

    workers = max(1, min(max_workers, len(targets)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="smtp-probe") as pool:
        return list(zip(targets, pool.map(guarded, targets)))
