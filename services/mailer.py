"""Sending mail: through an SMTP server, or, for the app's own mail in development, to instance/outbox/."""
import functools
import logging
import smtplib
import socket
import ssl
import time
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid, parseaddr
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    security: str  # ssl | starttls | none
    username: str = ""
    password: str = ""
    from_email: str = ""
    from_name: str = ""
    timeout: float = 10.0


class MailError(Exception):
    """Mail could not be handed to the server; the message says why (never the password)."""


def build_message(sender, to, subject, text, html=None):
    """A message with the headers every mail needs (RFC 5322: Date; Message-ID in the sender's domain)."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    domain = parseaddr(sender)[1].rpartition("@")[2].strip("[]") or "kabinet.local"
    message["Message-ID"] = make_msgid(domain=domain)
    message.set_content(text)
    if html:
        message.add_alternative(html, subtype="html")
    return message


@functools.cache
def default_tls_context():
    """Built once: creating a context loads the system's CA bundle each time."""
    return ssl.create_default_context()


def connect_first(addresses, timeout):
    """A socket to the first of these getaddrinfo answers that accepts a connection."""
    error = OSError("no address")
    for family, kind, proto, _name, address in addresses:
        sock = socket.socket(family, kind, proto)
        try:
            sock.settimeout(timeout)
            sock.connect(address)
            return sock
        except OSError as exc:
            sock.close()
            error = exc
    raise error


class PinnedSMTP(smtplib.SMTP):
    """smtplib.SMTP connecting to addresses checked beforehand instead of looking the name up again."""

    def __init__(self, *args, addresses, **kwargs):
        self.addresses = addresses
        super().__init__(*args, **kwargs)

    def _get_socket(self, host, port, timeout):
        return connect_first(self.addresses, timeout)


class PinnedSMTPSSL(smtplib.SMTP_SSL):
    def __init__(self, *args, addresses, **kwargs):
        self.addresses = addresses
        super().__init__(*args, **kwargs)

    def _get_socket(self, host, port, timeout):
        return self.context.wrap_socket(connect_first(self.addresses, timeout), server_hostname=host)


def send_mail(server, to, subject, text, html=None, ssl_context=None, addresses=None):
    """Send one message through `server` (SmtpSettings or anything with the same attributes). With
    `addresses` (getaddrinfo answers checked beforehand) it connects to those, not to a new lookup."""
    sender = formataddr((server.from_name, server.from_email)) if server.from_name else server.from_email
    message = build_message(sender, to, subject, text, html)
    context = ssl_context or default_tls_context()
    timeout = getattr(server, "timeout", 10.0)
    helo = socket.gethostname()  # smtplib's default asks DNS for our FQDN, which can hang
    try:
        pinned = {"addresses": addresses} if addresses else {}
        if server.security == "ssl":
            smtp = (PinnedSMTPSSL if addresses else smtplib.SMTP_SSL)(
                server.host, server.port, local_hostname=helo, timeout=timeout, context=context, **pinned)
        else:
            smtp = (PinnedSMTP if addresses else smtplib.SMTP)(
                server.host, server.port, local_hostname=helo, timeout=timeout, **pinned)
        with smtp:
            if server.security == "starttls":
                smtp.starttls(context=context)
            if server.username:
                smtp.login(server.username, server.password)
            smtp.send_message(message)
    except smtplib.SMTPResponseException as exc:
        raise MailError(f"{exc.smtp_code} {exc.smtp_error.decode(errors='replace')}") from None
    except (smtplib.SMTPException, OSError) as exc:
        raise MailError(str(exc) or exc.__class__.__name__) from None


def write_to_outbox(outbox, sender, to, subject, text):
    """Development mail: keep the message as an .eml file and show it in the console."""
    outbox = Path(outbox)
    outbox.mkdir(parents=True, exist_ok=True)
    message = build_message(sender, to, subject, text)
    path = outbox / f"{time.strftime('%Y%m%d-%H%M%S')}-{time.time_ns() % 10**9:09d}.eml"
    path.write_bytes(bytes(message))
    print(f"\n--- mail to {to}: {subject}\n{text}\n--- saved as {path}\n", flush=True)
    return path


def send_app_mail(config, to, subject, text):
    """The app's own mail (reset links, codes, notices), configured by the MAIL_* settings."""
    if not config.get("MAIL_HOST"):
        return write_to_outbox(Path(config["INSTANCE_PATH"]) / "outbox", config["MAIL_FROM"], to, subject, text)
    server = SmtpSettings(
        host=config["MAIL_HOST"],
        port=config["MAIL_PORT"],
        security=config["MAIL_SECURITY"],
        username=config["MAIL_USERNAME"],
        password=config["MAIL_PASSWORD"],
        from_email=config["MAIL_FROM"],
        timeout=config["MAIL_TIMEOUT"],
    )
    try:
        send_mail(server, to, subject, text, ssl_context=config.get("MAIL_SSL_CONTEXT"))
    except MailError as exc:
        log.warning("app mail to %s failed: %s", to, exc)
        raise
