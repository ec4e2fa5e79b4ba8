"""People's SMTP servers: their stored status, the checks that keep it current, and sending through them."""
import logging
import threading

from models import MailServer, db, utcnow, write_transaction
from services import crypto
from services import mailer
from services.mailer import SmtpSettings
from services.smtp_probe import AUTH, DNS, ProbeResult, check_many, check_smtp

log = logging.getLogger(__name__)
BLOCKED = "blocked"  # a probe reason of our own: the address is not on the public internet


class BlockedAddress(mailer.MailError):
    """The server resolves to a private, loopback or link-local address and MAIL_ALLOW_PRIVATE is off."""


def checked_addresses(server, config):
    """The server's host resolved once, every address public unless MAIL_ALLOW_PRIVATE (people must not
    scan the LAN), else webhooks.BlockedTarget; socket.gaierror when it does not resolve. The check and
    the mail connect to exactly these addresses: a DNS answer that changes in between cannot reach a
    private one (the way webhooks connect, services.webhook_http.resolve_checked)."""
    from services.webhook_http import resolve_checked

    allow_private = bool(config.get("MAIL_ALLOW_PRIVATE"))
    return resolve_checked(server.host, server.port, lambda address: allow_private or address.is_global)


def smtp_settings(server, config):
    """What the mailer and the probe need, with the password decrypted (kept out of templates and logs)."""
    return SmtpSettings(
        host=server.host,
        port=server.port,
        security=server.security,
        username=server.username,
        password=crypto.decrypt(server.password_token, config),
        from_email=server.from_email,
        from_name=server.from_name,
        timeout=config["MAIL_PROBE_TIMEOUT"],
    )


def probe(server, config):
    """Check one server now (never raises); see services.smtp_probe for what is checked."""
    from services.webhook_http import BlockedTarget

    try:
        addresses = checked_addresses(server, config)
    except BlockedTarget:
        return ProbeResult(False, BLOCKED, None, "address not on the public internet (MAIL_ALLOW_PRIVATE is off)")
    except OSError as exc:
        return ProbeResult(False, DNS, None, f"connect: {exc}"[:200])
    settings = smtp_settings(server, config)
    return check_smtp(
        settings.host,
        settings.port,
        settings.security,
        settings.username,
        settings.password,
        timeout=config["MAIL_PROBE_TIMEOUT"],
        ssl_context=config.get("MAIL_SSL_CONTEXT"),
        addresses=addresses,
    )


def store_result(server, result):
    """Save a check's outcome, unless the server was edited (or deleted) while it ran. When the status
    changes, the "mail_server.status_changed" webhook event is queued in the same transaction."""
    status = "online" if result.online else "offline"
    with write_transaction((MailServer, server.id)):
        previous = MailServer.select(MailServer.status).where(MailServer.id == server.id).scalar()
        stored = (
            MailServer.update(status=status, checked_at=utcnow(), reason=result.reason, reply_code=result.reply_code)
            .where(MailServer.id == server.id, MailServer.updated_at == server.updated_at)
            .execute()
        )
        if stored and previous != status:
            from services import webhooks

            webhooks.emit(server.organization_id, "mail_server.status_changed", {
                "mail_server": {"id": server.id, "host": server.host, "port": server.port, "owner": server.owner_id},
                "previous": previous, "status": status, "reason": result.reason, "reply_code": result.reply_code,
            })
    return stored


def check_servers(servers, config):
    """Check these servers concurrently (a bounded pool) and store each result; returns the results."""

    def safe_probe(server):
        try:
            return probe(server, config)
        except crypto.DecryptError:
            return ProbeResult(False, AUTH, None, "stored password does not decrypt with the configured keys")

    results = check_many(servers, safe_probe, max_workers=config["MAIL_POLL_WORKERS"])
    for server, result in results:
        try:
            store_result(server, result)
        except Exception:
            log.exception("could not store the status of mail server %s", server.id)
        if not result.online:
            log.info("mail server %s offline: %s", server.id, result.detail)
    return results


def poll_mail_servers():
    """Scheduler job: check every server once (runs in an app context)."""
    from flask import current_app

    servers = list(MailServer.select())
    results = check_servers(servers, current_app.config)
    online = sum(1 for _, result in results if result.online)
    log.info("checked %d mail server(s): %d online", len(results), online)


def check_soon(app, server_id):
    """Check one server in a background thread right after it is saved, so the request does not wait."""

    def run():
        with app.app_context():
            db.connect(reuse_if_open=True)
            try:
                server = MailServer.get_or_none(MailServer.id == server_id)
                if server is not None:
                    check_servers([server], app.config)
            except Exception:
                log.exception("checking mail server %s failed", server_id)
            finally:
                db.close()

    thread = threading.Thread(target=run, name=f"mail-check-{server_id}", daemon=True)
    thread.start()
    return thread


def send_mail(server, to, subject, text, html=None, config=None):
    """Send one message through a person's MailServer; raises services.mailer.MailError with the server's answer."""
    if config is None:
        from flask import current_app

        config = current_app.config
    from services.webhook_http import BlockedTarget

    try:
        addresses = checked_addresses(server, config)
    except BlockedTarget:
        raise BlockedAddress("the server's address is not on the public internet") from None
    except OSError as exc:
        raise mailer.MailError(f"cannot resolve {server.host}: {exc}") from None
    try:
        settings = smtp_settings(server, config)
    except crypto.DecryptError:
        raise mailer.MailError("the stored password cannot be decrypted; enter it again") from None
    mailer.send_mail(settings, to, subject, text, html=html, ssl_context=config.get("MAIL_SSL_CONTEXT"),
                     addresses=addresses)


def api_view(server):
    """What the JSON API may show of a server: everything but the password."""
    return {
        "id": server.id,
        "host": server.host,
        "port": server.port,
        "security": server.security,
        "username": server.username,
        "has_password": bool(server.password_token),
        "from_email": server.from_email,
        "from_name": server.from_name,
        "status": server.status,
        "checked_at": server.checked_at.isoformat() + "Z" if server.checked_at else None,
        "reason": server.reason,
        "reply_code": server.reply_code,
    }
