"""Outbound HTTP (SECURITY.md 26): the SSRF checks and the one pinned POST that webhooks (services.webhooks),
the SMS gateway (services.sms) and Telegram and Slack (services.channels) all send through.

The host is resolved, every address must be public (or allowed by WEBHOOK_ALLOW_PRIVATE /
WEBHOOK_ALLOWED_PRIVATE), and the connection goes to the address that was checked, so a second DNS
answer cannot point the request somewhere else. Redirects are never followed (http.client does not).
"""
import http.client
import ipaddress
import logging
import socket
import ssl
import threading
from collections import namedtuple
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

RESPONSE_KEEP = 4096  # bytes of a receiver's answer read and kept for the delivery log
HEADERS_KEEP = 50  # answer headers kept, each value cut to HEADER_KEEP characters
HEADER_KEEP = 500

# The receiver's answer: status code, [(name, value)] headers, the first RESPONSE_KEEP bytes of the body.
Answer = namedtuple("Answer", "status headers body")


class BlockedTarget(Exception):
    """The URL's host resolves to an address deliveries may not reach."""


def allowed_networks(config):
    nets = []
    for part in (config.get("WEBHOOK_ALLOWED_PRIVATE") or "").replace(";", ",").split(","):
        part = part.strip()
        if part:
            try:
                nets.append(ipaddress.ip_network(part, strict=False))
            except ValueError:
                log.warning("WEBHOOK_ALLOWED_PRIVATE: %r is not an address or network", part)
    return nets


def address_allowed(address, config):
    if address.version == 6 and address.ipv4_mapped:
        address = address.ipv4_mapped
    if address.is_global and not address.is_multicast:
        return True
    if config.get("WEBHOOK_ALLOW_PRIVATE"):
        return not address.is_multicast and not address.is_unspecified
    return any(address in net for net in allowed_networks(config))


def resolve_checked(host, port, allowed):
    """`host` resolved once: getaddrinfo's answers, every address passing `allowed(ip_address)` (else
    BlockedTarget). Callers connect to these answers and never look the name up again, so a DNS answer
    that changes between the check and the connection cannot reach an address that was not checked
    (webhooks here, people's mail servers in services.mail_servers). socket.gaierror when it does not resolve."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except UnicodeError as exc:
        raise socket.gaierror(f"cannot resolve {host}: {exc}") from None
    addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
    if not addresses or not all(allowed(a) for a in addresses):
        raise BlockedTarget("address not allowed (private, loopback or link-local)")
    return infos


def checked_address(host, port, config):
    """The address a webhook connects to: every address the name resolves to must be allowed (else BlockedTarget)."""
    return pinned_address(host, port, lambda address: address_allowed(address, config))


def pinned_address(host, port, allowed):
    """(family, sockaddr) to connect to, from resolve_checked; OSError saying so when the name does not resolve."""
    try:
        infos = resolve_checked(host, port, allowed)
    except OSError as exc:
        raise OSError(f"cannot resolve {host}: {exc}") from None
    return infos[0][0], infos[0][4]


class PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to an address checked beforehand, whatever the name resolves to now."""

    def __init__(self, host, port, family, sockaddr, timeout):
        super().__init__(host, port, timeout=timeout)
        self._family, self._sockaddr = family, sockaddr

    def _open(self):
        sock = socket.socket(self._family, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._sockaddr)
        except OSError:
            sock.close()
            raise
        return sock

    def connect(self):
        self.sock = self._open()


class PinnedHTTPSConnection(PinnedHTTPConnection):
    def __init__(self, host, port, family, sockaddr, timeout, context=None):
        super().__init__(host, port, family, sockaddr, timeout)
        self._context = context or ssl.create_default_context()

    def connect(self):
        self.sock = self._context.wrap_socket(self._open(), server_hostname=self.host)


def post(url, body, headers, config):
    """One webhook POST; returns the receiver's Answer (status, headers, the first RESPONSE_KEEP bytes of its
    body). Raises OSError/BlockedTarget/HTTPException. The whole exchange (connect, send, answer) is cut
    off after WEBHOOK_TIMEOUT seconds."""
    return post_pinned(url, body, headers, float(config.get("WEBHOOK_TIMEOUT") or 5),
                       lambda address: address_allowed(address, config), config.get("WEBHOOK_SSL_CONTEXT"))


def public_only(allow_private):
    """The address rule of the operator's own peers (SMS gateway, Telegram, Slack): public addresses, or any
    when the operator allows private ones (a gateway on the local network, the tests' stand-ins)."""
    return lambda address: allow_private or (address.is_global and not address.is_multicast)


def post_pinned(url, body, headers, timeout, allowed, ssl_context=None, keep=RESPONSE_KEEP):
    """POST to an http(s) URL whose host is resolved once, every address passing `allowed` (else
    BlockedTarget), and connected to at the checked address. Never follows a redirect. Returns the Answer
    with the first `keep` bytes of the body; the whole exchange is cut off after `timeout` seconds."""
    parts = urlsplit(url)
    https = parts.scheme == "https"
    port = parts.port or (443 if https else 80)
    family, sockaddr = pinned_address(parts.hostname, port, allowed)
    cls = PinnedHTTPSConnection if https else PinnedHTTPConnection
    kwargs = {"context": ssl_context} if https else {}
    conn = cls(parts.hostname, port, family, sockaddr, timeout, **kwargs)
    # A receiver that trickles bytes would reset the socket timeout forever: a timer ends it.
    expired = threading.Event()

    def cut_off():
        expired.set()
        try:
            if conn.sock is not None:
                conn.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    deadline = threading.Timer(timeout, cut_off)
    deadline.daemon = True
    deadline.start()
    try:
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        answer = Answer(response.status, [(k, v[:HEADER_KEEP]) for k, v in response.getheaders()[:HEADERS_KEEP]],
                        response.read(keep))
    except OSError:
        if expired.is_set():
            raise TimeoutError("timed out") from None
        raise
    finally:
        deadline.cancel()
        conn.close()
    if expired.is_set():  # the answer was cut off half-way: whatever was parsed does not count
        raise TimeoutError("timed out")
    return answer


