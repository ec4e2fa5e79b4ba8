"""The "Email" section of the personal-data page: a person's SMTP servers, their live status, test sends."""
import ipaddress
import re
from datetime import timedelta

from flask import Blueprint, abort, current_app, flash, g, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user, login_required
from wtforms import PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import ValidationError

from extensions import count_attempt, seconds_until_allowed
from models import MailServer, Prepared, db, utcnow
from services import audit, crypto, passwords, sessions
from services.mail_servers import BlockedAddress, check_soon, send_mail
from services.mailer import MailError

from blueprints import is_htmx, render, see_other
from blueprints.auth import client_meta
from blueprints.forms import EmailAddress, Form, max_length, required

bp = Blueprint("mail_servers", __name__, url_prefix="/app/personal-data/mail-servers")

SUGGESTED_PORTS = (587, 465, 25)
# One DNS label: letters, digits and inner hyphens (host names are checked after IDNA encoding).
LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$", re.IGNORECASE)
CONTROL = re.compile(r"[\x00-\x1f\x7f]")

REASONS = {
    "refused": _l("connection refused"),
    "timeout": _l("timed out"),
    "tls": _l("TLS failed"),
    "auth": _l("authentication failed"),
    "dns": _l("server name not found"),
    "protocol": _l("unexpected answer"),
    "blocked": _l("private address not allowed"),
}


def valid_host(value):
    """True for a host name (IDNA allowed) or an IP address; no spaces, schemes, ports or paths."""
    try:
        ipaddress.ip_address(value)
        return True
    except ValueError:
        pass
    try:
        ascii_name = value.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    labels = ascii_name[:-1].split(".") if ascii_name.endswith(".") else ascii_name.split(".")
    return len(ascii_name) <= 253 and all(LABEL.match(label) for label in labels)


def public_ip(value):
    """False for an IP literal outside the public internet; names are checked when the server is contacted."""
    try:
        return ipaddress.ip_address(value.split("%")[0]).is_global
    except ValueError:
        return True


class MailServerForm(Form):
    # Ids start with "mail-": the personal-data page around the popup has fields of its own.
    host = StringField(_l("Server address"), id="mail-host", validators=[required(), max_length(253)])
    port = StringField(_l("Port"), id="mail-port", validators=[required(), max_length(5)], default="587")
    security = SelectField(
        _l("Connection protection"),
        id="mail-security",
        choices=[
            SelectChoice("starttls", _l("TLS (STARTTLS)")),
            SelectChoice("ssl", _l("SSL")),
            SelectChoice("none", _l("None")),
        ],
        default="starttls",
    )
    username = StringField(_l("Username"), id="mail-username", validators=[max_length(254)])
    password = PasswordField(_l("Password"), id="mail-password", validators=[max_length(500)])
    from_email = StringField(
        _l("From e-mail"), id="mail-from_email",
        validators=[required(), max_length(254), EmailAddress(stored=lambda form: form.server and form.server.from_email)],
    )
    from_name = StringField(_l("From name"), id="mail-from_name", validators=[max_length(100)])
    current_password = PasswordField(
        _l("Your Kabinet password"), id="mail-current_password", validators=[max_length(passwords.MAX_LENGTH)]
    )

    def __init__(self, *args, server=None, reauth=False, **kwargs):
        self.server = server
        self.reauth = reauth
        super().__init__(*args, **kwargs)

    def validate_host(self, field):
        if len(field.data) <= 253 and not valid_host(field.data):
            raise ValidationError(_l("Enter the server's name, like smtp.gmail.com: no spaces, http:// or path."))
        if not current_app.config["MAIL_ALLOW_PRIVATE"] and not public_ip(field.data):
            raise ValidationError(_l("This is an address on a private network. Enter the server's public name."))

    def validate_port(self, field):
        digits = field.data.isascii() and field.data.isdigit() and len(field.data) <= 5
        if not digits or not 1 <= int(field.data) <= 65535:
            raise ValidationError(_l("Enter a port number from 1 to 65535, usually 587, 465 or 25."))

    def validate_password(self, field):
        creating = self.server is None or not self.server.password_token
        if creating and self.username.data and not field.data:
            raise ValidationError(_l("Enter the password for this username."))

    def validate_from_name(self, field):
        field.data = field.data or ""  # absent from the post: the same as empty
        if CONTROL.search(field.data):
            raise ValidationError(_l("Use letters, digits and punctuation only."))

    def validate_username(self, field):
        field.data = field.data or ""
        if CONTROL.search(field.data):
            raise ValidationError(_l("Use letters, digits and punctuation only."))

    def validate_current_password(self, field):
        # SECURITY.md 11: SMTP credentials change only with a fresh password check.
        if self.reauth and not passwords.verify_password(current_user.password_hash, field.data or ""):
            raise ValidationError(_l("Enter your current Kabinet password to save mail server settings."))


@bp.before_request
@login_required
def require_login():
    """Every page of this area needs a signed-in person."""


@bp.app_template_global("mail_reason")
def reason_text(reason):
    return REASONS.get(reason, "")


SERVERS_OF = Prepared(  # the personal-data page's section, on every visit
    lambda owner_id, organization_id: MailServer.select()
    .where(MailServer.owner == owner_id, MailServer.organization == organization_id)
    .order_by(MailServer.id)
)


@bp.app_template_global("mail_servers_for")
def servers_of(user):
    """The person's own servers, oldest first."""
    return SERVERS_OF.all(user.id, user.organization_id)


def own_server(server_id):
    """One of the signed-in person's servers, or 404 (another person's id looks like a missing one)."""
    server = MailServer.get_or_none(
        MailServer.id == server_id,
        MailServer.owner == current_user.id,
        MailServer.organization == current_user.organization_id,
    )
    if server is None:
        abort(404)
    return server


def reauth_needed():
    record = g.get("user_session")
    limit = timedelta(minutes=current_app.config["REAUTH_MINUTES"])
    return record is None or utcnow() - record.reauth_at > limit


def section_url():
    """Back to the section; htmx gets no #fragment, since a hash-only change would not reload the page."""
    return url_for("profile.personal_data") + ("" if is_htmx() else "#mail-servers")


@bp.route("/new", methods=["GET", "POST"])
def new_server():
    form = MailServerForm(reauth=reauth_needed())
    if not form.validate_on_submit():
        return form_page(form, None)
    server = MailServer(owner=current_user.id, organization=current_user.organization_id)
    save(server, form)
    flash(_("Mail server %(address)s added. Checking whether it is online…", address=server.address), "success")
    return see_other(section_url())


@bp.route("/<int:server_id>", methods=["GET", "POST"])
def edit_server(server_id):
    server = own_server(server_id)
    form = MailServerForm(obj=server, server=server, reauth=reauth_needed())
    if not form.validate_on_submit():
        return form_page(form, server)
    save(server, form)
    flash(_("Mail server %(address)s saved. Checking whether it is online…", address=server.address), "success")
    return see_other(section_url())


def form_page(form, server):
    """The add/edit form: a page, the popup (htmx GET) or the form again with its errors (422)."""
    status = 422 if form.is_submitted() else 200
    block = "form" if form.is_submitted() else "dialog"
    return render(
        "mail_servers/form.html",
        block=block,
        status=status,
        form=form,
        server=server,
        ports=SUGGESTED_PORTS,
    )


def save(server, form):
    """Write the form into `server` (password encrypted; empty keeps the stored one) and check it soon."""
    creating = server.id is None
    before = {name: getattr(server, name) for name in ("host", "port", "security", "username")}
    server.host = form.host.data.lower()
    server.port = int(form.port.data)
    server.security = form.security.data
    server.username = form.username.data
    server.from_email = form.from_email.data
    server.from_name = form.from_name.data
    password_changed = bool(form.password.data)
    if password_changed:
        server.password_token = crypto.encrypt(form.password.data)
    if not server.username:
        password_changed = password_changed or bool(server.password_token)
        server.password_token = ""  # no AUTH without a username, so no password to keep
    server.status, server.reason, server.reply_code = "checking", None, None
    server.updated_at = utcnow()
    with db.atomic():
        server.save()
        changed = [name for name, value in before.items() if getattr(server, name) != value]
        audit.record(
            "mail_server.created" if creating else "mail_server.updated",
            actor=current_user._get_current_object(),
            target=server.address,
            changed=changed,
            password_changed=password_changed,
            **client_meta(),
        )
    if form.reauth:
        sessions.mark_reauthenticated(g.user_session)
    if current_app.config["MAIL_CHECK_AFTER_SAVE"]:
        check_soon(current_app._get_current_object(), server.id)


@bp.get("/status")
def statuses():
    """The status cells alone, swapped out of band by the section's poller (a plain visit gets the page)."""
    if not is_htmx():
        return redirect(section_url())
    return render("mail_servers/status.html", servers=servers_of(current_user))


@bp.post("/<int:server_id>/test")
def send_test(server_id):
    """Send a short message through the saved settings to the person's own address."""
    server = own_server(server_id)
    user = current_user._get_current_object()
    limit = current_app.config["MAIL_TEST_LIMIT"]
    if seconds_until_allowed(limit, "mail-test", str(user.id)):
        return test_result(server, False, _("Too many test e-mails. Wait a little and try again."), 429)
    count_attempt(limit, "mail-test", str(user.id))
    subject = _("Kabinet test e-mail")
    text = _(
        "This is a test e-mail from Kabinet, sent through the mail server %(address)s. "
        "If you can read it, the server works.",
        address=server.address,
    )
    try:
        send_mail(server, user.email, subject, text)
    except BlockedAddress:
        message = _("The test e-mail was not sent: this server's address is on a private network.")
        return test_result(server, False, message, 422)
    except MailError as exc:
        return test_result(server, False, _("The test e-mail was not sent: %(error)s", error=str(exc)[:300]), 502)
    return test_result(server, True, _("Test e-mail sent to %(email)s.", email=user.email), 200)


def test_result(server, ok, message, status):
    if is_htmx():
        return render("mail_servers/form.html", block="test_result", status=status, server=server, ok=ok, message=message)
    flash(message, "success" if ok else "error")
    return see_other(url_for("mail_servers.edit_server", server_id=server.id))


@bp.post("/delete")
def delete_servers():
    """Delete the ticked servers after a confirmation (a popup with htmx, a page without); only the ticked ones,
    so a server added in another tab meanwhile is never deleted unseen."""
    raw_ids = request.form.getlist("ids")
    if any(not value.isascii() or not value.isdigit() or len(value) > 18 for value in raw_ids):
        abort(404)
    ids = {int(value) for value in raw_ids}
    query = MailServer.select().where(
        MailServer.owner == current_user.id, MailServer.organization == current_user.organization_id
    )
    servers = list(query.where(MailServer.id.in_(ids or [0])).order_by(MailServer.id))
    if len(servers) != len(ids):
        abort(404)  # someone else's (or a missing) server among the ids
    if not servers or request.form.get("confirm") != "yes":
        return render(
            "mail_servers/delete.html",
            block="confirm_dialog",
            status=422 if not servers else 200,
            servers=servers,
        )
    with db.atomic():
        MailServer.delete().where(MailServer.id.in_([s.id for s in servers])).execute()
        audit.record(
            "mail_server.deleted",
            actor=current_user._get_current_object(),
            target=", ".join(s.address for s in servers),
            count=len(servers),
            **client_meta(),
        )
    flash(ngettext("%(num)d mail server deleted.", "%(num)d mail servers deleted.", len(servers)), "success")
    return see_other(section_url())
