"""services.smtp_probe against real peers on 127.0.0.1 (aiosmtpd servers and misbehaving sockets)."""
import contextlib
import ssl
import time

import pytest

from services.smtp_probe import (
    AUTH, DNS, PROTOCOL, REFUSED, TIMEOUT, TLS, ProbeResult, check_many, check_smtp,
)
from tests.smtp_peers import closed_port, hangup_peer, silent_peer, smtp_server, trickling_peer

USER, PASSWORD = "ann@example.com", "correct horse battery staple"


def timed(function, *args, **kwargs):
    started = time.monotonic()
    result = function(*args, **kwargs)
    return result, time.monotonic() - started


def test_plain_server_is_online():
    with smtp_server() as server:
        result = check_smtp(server.host, server.port, "none", None, None, timeout=5)
    assert result.online, result
    assert result.reason is None and result.reply_code is None


def test_starttls_server_is_online_when_its_certificate_is_trusted():
    with smtp_server(tls="starttls") as server:
        result = check_smtp(server.host, server.port, "starttls", None, None, timeout=5,
                            ssl_context=server.ssl_context)
    assert result.online, result


def test_implicit_tls_server_is_online_when_its_certificate_is_trusted():
    with smtp_server(tls="implicit") as server:
        result = check_smtp(server.host, server.port, "ssl", None, None, timeout=5, ssl_context=server.ssl_context)
    assert result.online, result


@pytest.mark.parametrize("tls, security", [("starttls", "starttls"), ("implicit", "ssl")])
def test_untrusted_certificate_is_a_tls_failure(tls, security):
    # No ssl_context: the default one verifies against the system store, which does not know the test CA.
    with smtp_server(tls=tls) as server:
        result = check_smtp(server.host, server.port, security, None, None, timeout=5)
    assert (result.online, result.reason) == (False, TLS), result
    assert "certificate" in result.detail.lower()


def test_starttls_asked_of_a_server_that_does_not_offer_it_is_a_tls_failure():
    with smtp_server() as server:
        result = check_smtp(server.host, server.port, "starttls", None, None, timeout=5)
    assert (result.online, result.reason) == (False, TLS), result


def test_implicit_tls_against_a_plain_server_is_a_tls_failure():
    with smtp_server() as server:
        result = check_smtp(server.host, server.port, "ssl", None, None, timeout=5)
    assert (result.online, result.reason) == (False, TLS), result


@pytest.mark.parametrize("tls, security", [(None, "none"), ("starttls", "starttls"), ("implicit", "ssl")])
def test_accepted_credentials_are_online(tls, security):
    with smtp_server(tls=tls, auth=(USER, PASSWORD)) as server:
        result = check_smtp(server.host, server.port, security, USER, PASSWORD, timeout=5,
                            ssl_context=server.ssl_context)
    assert result.online, result
    assert "AUTH accepted" in result.detail


def test_refused_credentials_are_an_auth_failure_with_the_reply_code():
    """SECURITY 24: the password never appears in the detail that gets logged."""
    wrong = "not-the-password-1234"
    with smtp_server(tls="starttls", auth=(USER, PASSWORD)) as server:
        result = check_smtp(server.host, server.port, "starttls", USER, wrong, timeout=5,
                            ssl_context=server.ssl_context)
    assert (result.online, result.reason, result.reply_code) == (False, AUTH, 535), result
    assert wrong not in result.detail


def test_non_ascii_password_is_an_auth_failure_without_leaking_it():
    password = "пароль-секрет"
    with smtp_server(auth=(USER, password)) as server:
        result = check_smtp(server.host, server.port, "none", USER, password, timeout=5)
    assert (result.online, result.reason) == (False, AUTH), result
    assert not set(password) & set(result.detail) - set("-")


def test_credentials_for_a_server_without_auth_are_an_auth_failure():
    with smtp_server() as server:
        result = check_smtp(server.host, server.port, "none", USER, PASSWORD, timeout=5)
    assert (result.online, result.reason) == (False, AUTH), result


def test_closed_port_is_refused():
    result, elapsed = timed(check_smtp, "127.0.0.1", closed_port(), "none", None, None, timeout=5)
    assert (result.online, result.reason) == (False, REFUSED), result
    assert elapsed < 1


def test_unresolvable_host_is_a_dns_failure():
    result = check_smtp("no-such-host.invalid", 25, "none", None, None, timeout=5)
    assert (result.online, result.reason) == (False, DNS), result


@pytest.mark.parametrize("security", ["none", "starttls", "ssl"])
def test_silent_peer_times_out_within_the_timeout(security):
    with silent_peer() as peer:
        result, elapsed = timed(check_smtp, peer.host, peer.port, security, None, None, timeout=1)
    assert (result.online, result.reason) == (False, TIMEOUT), result
    assert 0.9 < elapsed < 1.5


def test_trickling_peer_times_out_within_the_timeout():
    # A byte every 0.1 s satisfies every per-read timeout; only the overall deadline stops this.
    with trickling_peer(interval=0.1) as peer:
        result, elapsed = timed(check_smtp, peer.host, peer.port, "none", None, None, timeout=1)
    assert (result.online, result.reason) == (False, TIMEOUT), result
    assert 0.9 < elapsed < 1.5


def test_peer_closing_mid_dialogue_is_a_protocol_failure():
    with hangup_peer() as peer:  # greets, reads EHLO, hangs up
        result = check_smtp(peer.host, peer.port, "none", None, None, timeout=5)
    assert (result.online, result.reason) == (False, PROTOCOL), result


def test_error_greeting_is_a_protocol_failure_with_its_code():
    with hangup_peer(greeting=b"554 5.3.2 not accepting mail\r\n") as peer:
        result = check_smtp(peer.host, peer.port, "none", None, None, timeout=5)
    assert (result.online, result.reason, result.reply_code) == (False, PROTOCOL, 554), result
    assert "not accepting mail" in result.detail


def test_unknown_security_mode_is_reported_not_raised():
    result = check_smtp("127.0.0.1", closed_port(), "tls1.0", None, None, timeout=1)
    assert (result.online, result.reason) == (False, PROTOCOL), result


def test_check_many_takes_about_one_timeout_for_twenty_silent_peers():
    with contextlib.ExitStack() as stack:
        peers = [stack.enter_context(silent_peer()) for _ in range(20)]
        results, elapsed = timed(
            check_many, peers, lambda peer: check_smtp(peer.host, peer.port, "none", None, None, timeout=1))
    assert elapsed < 2, f"one cycle took {elapsed:.2f}s"
    assert [target for target, _ in results] == peers
    assert all(result.reason == TIMEOUT for _, result in results), results


def test_check_many_runs_at_most_max_workers_at_once():
    with silent_peer() as peer:
        results, elapsed = timed(
            check_many, range(4), lambda _: check_smtp(peer.host, peer.port, "none", None, None, timeout=0.5),
            max_workers=2)
    assert len(results) == 4
    assert 0.9 < elapsed < 1.4, f"4 checks of 0.5 s on 2 workers took {elapsed:.2f}s"


def test_check_many_survives_a_probe_that_raises():
    with smtp_server() as server:
        targets = [("ok", server.port), ("boom", None), ("closed", closed_port()), ("ok", server.port)]

        def probe(target):
            kind, port = target
            if kind == "boom":
                raise RuntimeError("probe bug")
            return check_smtp(server.host, port, "none", None, None, timeout=5)

        results = dict(enumerate(result for _, result in check_many(targets, probe)))
    assert results[0].online and results[3].online
    assert (results[1].reason, results[1].detail) == (PROTOCOL, "probe raised RuntimeError: probe bug")
    assert results[2].reason == REFUSED


def test_check_many_of_nothing_is_nothing():
    assert check_many([], lambda target: ProbeResult(True, None, None, "")) == []


def test_default_context_verifies_certificates():
    # Guards the cached default: it must stay a verifying one.
    from services.smtp_probe import _default_context

    assert _default_context().verify_mode == ssl.CERT_REQUIRED and _default_context().check_hostname
