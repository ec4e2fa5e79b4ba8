"""Real SMTP and TCP peers on 127.0.0.1 for tests: aiosmtpd servers (plain, STARTTLS, implicit TLS, AUTH)
and misbehaving sockets (closed, silent, trickling, hanging up). Plain context managers, usable anywhere.

    with smtp_server(tls="starttls", auth=("ann", "secret")) as server:
        send_something(server.host, server.port, ssl_context=server.ssl_context)
        assert server.wait_for(1)[0].rcpt_tos == ["bob@example.com"]
"""
import atexit
import datetime
import email
import email.policy
import ipaddress
import logging
import shutil
import socket
import ssl
import tempfile
import threading
import time
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Callable, Iterator

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

HOST = "127.0.0.1"
GREETING = b"220 peer.test ESMTP\r\n"


class _DropLoginDataNotice(logging.Filter):
    """aiosmtpd 1.4 logs "Session.login_data is deprecated" on every successful AUTH, from its own code."""

    def filter(self, record):
        return "login_data is deprecated" not in record.getMessage()


logging.getLogger("mail.log").addFilter(_DropLoginDataNotice())


# --- certificates ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PeerCertificate:
    """A throwaway CA (trusted by nobody else) and a server certificate it signed for localhost/127.0.0.1/::1."""

    ca_path: Path
    cert_path: Path
    key_path: Path

    def client_context(self) -> ssl.SSLContext:
        """A verifying client context that trusts this CA only."""
        return ssl.create_default_context(cafile=str(self.ca_path))

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(self.cert_path), str(self.key_path))
        return context


def make_certificate(directory: Path) -> PeerCertificate:
    """Write a fresh CA and server certificate (EC P-256, valid for a day) into `directory`."""
    now = datetime.datetime.now(datetime.timezone.utc)
    validity = (now - datetime.timedelta(minutes=5), now + datetime.timedelta(days=1))

    def build(subject, issuer, public_key, signing_key, extensions):
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(validity[0])
            .not_valid_after(validity[1])
        )
        for extension, critical in extensions:
            builder = builder.add_extension(extension, critical=critical)
        return builder.sign(signing_key, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = build("Kabinet test CA", "Kabinet test CA", ca_key.public_key(), ca_key, [
        (x509.BasicConstraints(ca=True, path_length=0), True),
        (x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                       key_encipherment=False, data_encipherment=False, key_agreement=False,
                       encipher_only=False, decipher_only=False), True),
        (x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False),
    ])
    key = ec.generate_private_key(ec.SECP256R1())
    cert = build("localhost", "Kabinet test CA", key.public_key(), ca_key, [
        (x509.BasicConstraints(ca=False, path_length=None), True),
        (x509.SubjectAlternativeName([
            x509.DNSName("localhost"),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            x509.IPAddress(ipaddress.ip_address("::1")),
        ]), False),
        (x509.ExtendedKeyUsage([x509.ExtendedKeyUsageOID.SERVER_AUTH]), False),
        (x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False),
    ])
    directory = Path(directory)
    paths = PeerCertificate(directory / "ca.pem", directory / "server.pem", directory / "server-key.pem")
    paths.ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths.cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths.key_path.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return paths


@cache
def shared_certificate() -> PeerCertificate:
    """One certificate per test process (generating is cheap, but a hundred servers need not each do it)."""
    directory = tempfile.mkdtemp(prefix="kabinet-test-cert-")
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    return make_certificate(Path(directory))


# --- SMTP servers ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReceivedMessage:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes  # the message as the server received it
    login: str | None  # who authenticated on that connection, None when nobody did

    @property
    def message(self) -> email.message.EmailMessage:
        return email.message_from_bytes(self.data, policy=email.policy.default)


class RecordingHandler:
    """aiosmtpd handler that keeps every delivered message; optionally refuses MAIL before AUTH."""

    def __init__(self, require_auth: bool = False):
        self.require_auth = require_auth
        self.messages: list[ReceivedMessage] = []
        self._arrived = threading.Condition()

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        # Done here rather than with aiosmtpd's auth_required, which warns (an error under -W error) without TLS.
        if self.require_auth and not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        login = session.auth_data if session.authenticated else None
        received = ReceivedMessage(envelope.mail_from, list(envelope.rcpt_tos), envelope.content, login)
        with self._arrived:
            self.messages.append(received)
            self._arrived.notify_all()
        return "250 Message accepted"

    def wait_for(self, count: int, timeout: float = 5.0) -> list[ReceivedMessage]:
        with self._arrived:
            if not self._arrived.wait_for(lambda: len(self.messages) >= count, timeout):
                raise AssertionError(f"expected {count} message(s) within {timeout}s, got {len(self.messages)}")
            return list(self.messages)


def accept_only(username: str, password: str):
    """aiosmtpd authenticator accepting exactly this username and password (answers 535 otherwise)."""

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = auth_data.login == username.encode() and auth_data.password == password.encode()
        # auth_data becomes session.auth_data, which RecordingHandler stores with each message.
        return AuthResult(success=ok, handled=False, auth_data=username if ok else None)

    return authenticator


@dataclass
class SmtpPeer:
    host: str
    port: int
    tls: str | None  # None, "starttls" or "implicit"
    ssl_context: ssl.SSLContext | None  # a client context trusting this server's certificate; None when plain
    certificate: PeerCertificate | None
    handler: RecordingHandler = field(repr=False)

    @property
    def messages(self) -> list[ReceivedMessage]:
        return self.handler.messages

    def wait_for(self, count: int, timeout: float = 5.0) -> list[ReceivedMessage]:
        """Block until at least `count` messages arrived; AssertionError after `timeout` seconds."""
        return self.handler.wait_for(count, timeout)


class _EphemeralPortController(Controller):
    """Controller on port 0: the kernel picks a free port, so parallel tests never collide."""

    def _trigger_server(self):
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


@contextmanager
def smtp_server(
    tls: str | None = None,
    auth: tuple[str, str] | None = None,
    require_auth: bool | None = None,
    certificate: PeerCertificate | None = None,
) -> Iterator[SmtpPeer]:
    """A real aiosmtpd server on 127.0.0.1 and a free port.

    tls: None (plain), "starttls" (offers STARTTLS; AUTH only after it), "implicit" (TLS from the first byte).
    auth: (username, password) the server accepts; anything else gets 535. MAIL before a successful AUTH gets
    530 unless require_auth=False (it defaults to True when auth is given).
    """
    if tls not in (None, "starttls", "implicit"):
        raise ValueError(f"tls must be None, 'starttls' or 'implicit', not {tls!r}")
    certificate = certificate or (shared_certificate() if tls else None)
    handler = RecordingHandler(require_auth=auth is not None if require_auth is None else require_auth)
    options = {"server_hostname": "localhost"}  # the default calls socket.getfqdn(), a slow DNS lookup
    if tls == "starttls":
        options["tls_context"] = certificate.server_context()
    if tls == "implicit":
        options["ssl_context"] = certificate.server_context()
    if auth:
        options["authenticator"] = accept_only(*auth)
        # aiosmtpd only counts STARTTLS as TLS; with implicit TLS (or none at all) AUTH must be allowed explicitly.
        options["auth_require_tls"] = tls == "starttls"
    controller = _EphemeralPortController(handler, hostname=HOST, port=0, **options)
    controller.start()
    try:
        yield SmtpPeer(HOST, controller.port, tls, certificate.client_context() if certificate else None,
                       certificate, handler)
    finally:
        controller.stop()


# --- misbehaving TCP peers ------------------------------------------------------------------------


@dataclass(frozen=True)
class TcpPeer:
    host: str
    port: int


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released), so connecting is refused."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


@contextmanager
def raw_peer(serve: Callable[[socket.socket, threading.Event], None]) -> Iterator[TcpPeer]:
    """Listen on 127.0.0.1 and run serve(connection, stopping) in a thread per accepted connection.

    `stopping` is set when the block exits; serve should return then. OSErrors in serve are ignored
    (the client hanging up is normal here); the connection is closed for it.
    """
    listener = socket.socket()
    listener.bind((HOST, 0))
    listener.listen(256)
    stopping = threading.Event()
    connections: list[socket.socket] = []
    workers: list[threading.Thread] = []

    def run(connection):
        try:
            serve(connection, stopping)
        except OSError:
            pass
        finally:
            connection.close()  # serve returning means hanging up

    def accept_loop():
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            if stopping.is_set():  # the wake-up connection from the exit path
                connection.close()
                return
            connections.append(connection)
            worker = threading.Thread(target=run, args=(connection,), daemon=True)
            workers.append(worker)
            worker.start()

    acceptor = threading.Thread(target=accept_loop, daemon=True)
    acceptor.start()
    try:
        yield TcpPeer(HOST, listener.getsockname()[1])
    finally:
        stopping.set()
        socket.create_connection((HOST, listener.getsockname()[1]), timeout=5).close()  # wakes accept()
        acceptor.join()
        listener.close()
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)  # wakes a serve() blocked in recv
            except OSError:
                pass
        for worker in workers:
            worker.join()
        for connection in connections:
            connection.close()


def silent_peer() -> AbstractContextManager[TcpPeer]:
    """Accepts connections and never sends a byte."""
    return raw_peer(lambda connection, stopping: stopping.wait())


def trickling_peer(interval: float = 0.1, hang_up_after: float = 5.0) -> AbstractContextManager[TcpPeer]:
    """Accepts, then sends a never-ending multi-line greeting ("220-trickle" lines) one byte per `interval`.

    Every read gets a byte well within any per-read timeout, so only an overall deadline ends the dialogue
    early. After `hang_up_after` seconds it closes, so a client without a deadline fails a test instead of
    hanging it.
    """

    def serve(connection, stopping):
        give_up = time.monotonic() + hang_up_after
        while time.monotonic() < give_up:
            for byte in b"220-trickle\r\n":
                if stopping.wait(interval):
                    return
                connection.sendall(bytes([byte]))

    return raw_peer(serve)


def hangup_peer(greeting: bytes = GREETING, lines_before_hangup: int = 1) -> AbstractContextManager[TcpPeer]:
    """Sends `greeting`, reads that many command lines (EHLO, ...), then closes mid-dialogue.

    With greeting=b"554 5.3.2 no service\\r\\n" it is a server refusing clients at connect.
    """

    def serve(connection, stopping):
        connection.sendall(greeting)
        reader = connection.makefile("rb")
        try:
            for _ in range(lines_before_hangup):
                if not reader.readline():
                    return
        finally:
            reader.close()

    return raw_peer(serve)
