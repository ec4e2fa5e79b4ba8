"""Back-office users: the list (filters, search, sorting, keyset pages), create with "Send to email",
details and edit, disable, roles (owner only). The password and 2FA actions are in user_security.py."""
import ipaddress
from datetime import timedelta

import phonenumbers
from flask import current_app, flash, request, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, EmailField, PasswordField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import ValidationError

from extensions import language_for, locale_code
from models import Client, ClientTag, Group, GroupMember, User, UserAllowedTag, utcnow
from models.core import ROLES
from services import audit, region, tokens
from services.mailer import MailError, send_app_mail
from services.user_admin import apply_details, create_person, details_problem, settings_of
from services.user_bulk import ACTIONS as BULK_ACTIONS
from services.permissions import (
    EVENT_CATALOG,
    above_you,
    has_permission,
    may_give_membership,
    permission_required,
    stands_above,
)

from blueprints import render, see_other
from blueprints.bounds import bounded_id
from blueprints.forms import EmailAddress, Form, max_length, required, shorten_choices
from blueprints.person.security import password_problem, reauth_expired, renew_session_id
from blueprints.admin.core import bp, client_meta, me, own
from blueprints.admin.fields import MultiCheckboxField
from blueprints.admin.impersonation import may_impersonate
from blueprints.admin.userlist import SORTS, row_details, users_page

INVITE_LIFETIME = timedelta(days=3)
IP_LIST_MAX = 50


def country_choices():
    """The world's countries in the reader's language, sorted as they read ("о-в Мэн" under О, not after Я)."""
    return list(region.countries(locale_code()))


def client_countries(organization_id):
    """The countries of the organization's clients: the filter's short list (a country without clients filters nothing)."""
    query = Client.select(Client.country).where(Client.organization == organization_id, Client.country != "").distinct()
    return {client.country for client in query}


def normalize_ip_list(text):
    """One address or CIDR range per line, normalised; ValidationError naming the first bad line."""
    lines = [line.strip() for line in (text or "").replace(",", "\n").splitlines() if line.strip()]
    if len(lines) > IP_LIST_MAX:
        raise ValidationError(_l("At most %(n)d addresses or ranges.", n=IP_LIST_MAX))
    result = []
    for line in lines:
        try:
            network = ipaddress.ip_network(line, strict=False)
        except ValueError:
            raise ValidationError(_l("“%(value)s” is not an IP address or range.", value=line[:60])) from None
        result.append(str(network.network_address) if network.num_addresses == 1 else str(network))
    return "\n".join(dict.fromkeys(result))


def normalize_phone(value):
    if not value:
        return None
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise ValidationError(_l("Enter the phone number with its country code, like +7 912 345-67-89."))
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


class AccessFields(Form):
    """Fields shared by the create and the details form."""

    phone = StringField(_l("Phone"), validators=[max_length(30)])
    groups = MultiCheckboxField(_l("Groups"), coerce=int, choices=[])
    tags = MultiCheckboxField(_l("Allowed client tags"), coerce=int, choices=[])
    countries_except = BooleanField(_l("All except"))
    countries = SelectMultipleField(_l("Countries"), choices=[], default=list)
    ip_allowlist = TextAreaField(_l("IP whitelist"), validators=[max_length(3000)])

    def __init__(self, *args, countries_part=None, organization_id=None, **kwargs):
        super().__init__(*args, **kwargs)
        org = organization_id or me().organization_id  # the API passes its key owner's
        self.groups.choices = [(g.id, g.display_name) for g in Group.select().where(Group.organization == org).order_by(Group.name)]
        self.tags.choices = [(t.id, t.caption) for t in ClientTag.select().where(ClientTag.organization == org).order_by(ClientTag.caption)]
        self.countries.choices = country_choices()
        # The clients' countries and the chosen ones; the others a part (?countries=2) at a time.
        self.countries_parts = shorten_choices(self.countries, client_countries(org), countries_part)

    def validate_phone(self, field):
        field.data = normalize_phone(field.data)

    def validate_ip_allowlist(self, field):
        field.data = normalize_ip_list(field.data)


class CreateUserForm(AccessFields):
    full_name = StringField(_l("Full name"), validators=[required(), max_length(200)])
    email = EmailField(_l("E-mail"), validators=[required(), EmailAddress()])
    send_to_email = BooleanField(_l("Send to email"), default=True)

    def validate_email(self, field):
        if User.select().where(User.email == field.data).exists():
            raise ValidationError(_l("A user with this e-mail already exists."))


class DetailsForm(AccessFields):
    telegram_chat_id = StringField(_l("Telegram chat ID"), validators=[max_length(64)])
    slack_chat_id = StringField(_l("Slack chat ID"), validators=[max_length(64)])
    subscriptions = MultiCheckboxField(_l("Event notifications"), choices=[])
    mask_data = BooleanField(_l("Mask data"))
    status = SelectField(_l("Status"), choices=[])
    role = SelectField(_l("Role"), choices=[])
    # Asked for only when the status or IP whitelist changes without a recent password entry (SECURITY.md 30).
    password = PasswordField(_l("Your password"), validators=[max_length(1024)])
    password_needed = False

    def __init__(self, *args, target_role="employee", **kwargs):
        super().__init__(*args, **kwargs)
        self.subscriptions.choices = list(EVENT_CATALOG.items())
        self.status.choices = [("enabled", _l("Enabled")), ("disabled", _l("Disabled"))]
        # The owner's role is never given or taken here; other people are administrators or employees.
        self.role.choices = [(r, role_label(r)) for r in ROLES if r != "owner" or target_role == "owner"]

    def validate_telegram_chat_id(self, field):
        # Telegram chat ids are integers (negative for groups and channels) or @channelname.
        if field.data and not (field.data.lstrip("-").isdigit() or (field.data.startswith("@") and field.data[1:].replace("_", "").isalnum())):
            raise ValidationError(_l("A Telegram chat ID is a number like -1001234567890 or a @channel name."))

    def validate_slack_chat_id(self, field):
        if field.data and not field.data.isalnum():
            raise ValidationError(_l("A Slack channel ID looks like C0123456789."))


def role_label(role):
    return {"owner": _l("Owner"), "admin": _l("Administrator"), "employee": _l("Employee")}.get(role, role)


STATUS_LABELS = {"enabled": _l("Enabled"), "disabled": _l("Disabled")}
TWO_FACTOR_LABELS = {"off": _l("Disabled"), "email": _l("Email"), "totp": _l("TOTP")}


# --- list -----------------------------------------------------------------------------------


@bp.get("/users")
@permission_required("users.view")
def users():
    args = request.args
    org = me().organization_id
    sort = args.get("sort") if args.get("sort") in SORTS else "created"
    descending = args.get("dir", "desc" if sort == "created" else "asc") != "asc"
    status = args.get("status") if args.get("status") in STATUS_LABELS else ""
    two_factor = args.get("tfa") if args.get("tfa") in TWO_FACTOR_LABELS else ""
    q = args.get("q", "").strip()[:100]
    invited = args.get("invite") == "pending"
    group = None
    if bounded_id(args.get("group")):
        group = own(Group, bounded_id(args["group"]))
    rows, prev_cursor, next_cursor = users_page(
        org, q=q, status=status, group=group, two_factor=two_factor, invited=invited, sort=sort, descending=descending,
        after=args.get("after"), before=args.get("before"), last=args.get("page") == "last",
    )
    groups, tags, creators = row_details(rows)
    filters = {"q": q, "status": status, "tfa": two_factor, "group": group.id if group else "", "sort": sort,
               "invite": "pending" if invited else "",
               "dir": "desc" if descending else "asc"}
    filters = {k: v for k, v in filters.items() if v}
    return render(
        "admin/users.html",
        block="users_table",
        rows=rows,
        groups=groups,
        tags=tags,
        creators=creators,
        filters=filters,
        all_groups=list(Group.select().where(Group.organization == org).order_by(Group.name)),
        prev_cursor=prev_cursor,
        next_cursor=next_cursor,
        sorts=SORTS,
        status_labels=STATUS_LABELS,
        two_factor_labels=TWO_FACTOR_LABELS,
        can_edit=has_permission(me(), "users.edit"),
        bulk_actions=BULK_ACTIONS,
    )


# --- create ---------------------------------------------------------------------------------


def hierarchy_problem(groups_ids, target=None, actor=None):
    """Why `actor` (default: `me()`) may not make this change (SECURITY.md 29), or None: `target` stands
    above them, or a group they would put someone into or take them out of grants what they do not hold."""
    actor = actor or me()
    if target is not None and stands_above(target, actor):
        return above_you(target)
    current = {m.group_id for m in GroupMember.select().where(GroupMember.user == target)} if target else set()
    changed = current ^ set(groups_ids or ())
    for group in Group.select().where(Group.id.in_(changed or [0]), Group.organization == actor.organization_id):
        if not may_give_membership(actor, group):
            if group.is_administrators:
                return _("Only an administrator can add people to the Administrators group or remove them from it.")
            return _("The group “%(name)s” grants permissions you do not hold, so you cannot add or remove its members.",
                     name=group.display_name)
    return None


@bp.route("/users/new", methods=["GET", "POST"])
@permission_required("users.edit")
def create_user():
    form = CreateUserForm(countries_part=request.args.get("countries"))
    if not form.validate_on_submit():
        status = 422 if form.is_submitted() else 200
        return render("admin/user_new.html", block="user_form", status=status, form=form)
    problem = hierarchy_problem(form.groups.data)
    if problem:
        form.groups.errors = [problem]
        return render("admin/user_new.html", block="user_form", status=403, form=form)
    user = create_person(me(), form, client_meta())
    if user is None:
        # The address was taken since the form was checked (addresses are unique across organizations, so
        # no lock of ours covers it): the unique index held, and the form says so as its check would have.
        form.email.errors = [*form.email.errors, _("A user with this e-mail already exists.")]
        return render("admin/user_new.html", block="user_form", status=422, form=form)
    if form.send_to_email.data:
        if send_set_password_link(user, invite=True):
            flash(_("User %(email)s created. A link to set a password was sent to them.", email=user.email), "success")
        else:
            flash(_("User %(email)s created, but the e-mail could not be sent. Use “reset” next to the password to send a new link.", email=user.email), "error")
    else:
        flash(_("User %(email)s created.", email=user.email), "success")
    return see_other(url_for("admin.user", user_id=user.id))


def send_set_password_link(user, invite=False, actor=None):
    """Mail a single-use link to set a password (never the password itself), from `actor` (default:
    `me()`); False when mail failed."""
    secret = tokens.issue_token(user, "reset", INVITE_LIFETIME if invite else tokens.RESET_LIFETIME)
    link = url_for("auth.reset_password", token=secret, _external=True)
    with force_locale(language_for(user)):  # a new person: the language of this page
        if invite:
            subject = _("Your Kabinet account")
            text = _(
                "%(admin)s created a Kabinet account for you.\n\nSign-in e-mail: %(email)s\n\n"
                "To choose your password, open this link within three days:\n%(link)s\n\n"
                "Then sign in at %(login)s",
                admin=(actor or me()).display_name, email=user.email, link=link, login=url_for("auth.login", _external=True),
            )
        else:
            subject = _("Reset your Kabinet password")
            text = _(
                "Your administrator asked for a password reset for %(email)s.\n\n"
                "To choose a new password, open this link within one hour:\n%(link)s",
                email=user.email, link=link,
            )
    try:
        send_app_mail(current_app.config, user.email, subject, text)
    except MailError:
        return False
    if invite:  # pending until the person sets their password or signs in (users list)
        User.update(invited_at=utcnow()).where(User.id == user.id).execute()
    return True


# --- details --------------------------------------------------------------------------------


def details_data(user):
    """The details form's values as saved (the API merges a change into them)."""
    settings = settings_of(user)
    return {
        "phone": user.phone or "",
        "groups": [m.group_id for m in GroupMember.select().where(GroupMember.user == user)],
        "tags": [t.tag_id for t in UserAllowedTag.select().where(UserAllowedTag.user == user)],
        "countries_except": settings.countries_except,
        "countries": settings.country_list,
        "ip_allowlist": user.ip_allowlist,
        "telegram_chat_id": settings.telegram_chat_id,
        "slack_chat_id": settings.slack_chat_id,
        "subscriptions": settings.subscription_list,
        "mask_data": settings.mask_data,
        "status": user.status,
        "role": user.role,
    }


def details_form(user, submitted=False):
    data = details_data(user)
    if not submitted:
        return DetailsForm(formdata=None, data=data, target_role=user.role, countries_part=request.args.get("countries"))
    form = DetailsForm(target_role=user.role)
    for name in ("role", "status"):  # not shown to everyone: absent means unchanged
        if name not in request.form:
            getattr(form, name).data = data[name]
    return form


def details_page(user, form=None, status=200, notice=None):
    form = form or details_form(user)
    form.password.data = ""  # never sent back
    return render(
        "admin/user.html",
        block="user_details",
        status=status,
        user=user,
        form=form,
        notice=notice,
        creator=user.created_by,
        can_edit=has_permission(me(), "users.edit") and not stands_above(user, me()),
        can_impersonate=has_permission(me(), "users.impersonate") and may_impersonate(me(), user),
        is_owner=me().role == "owner",
        role_label=role_label,
        two_factor_labels=TWO_FACTOR_LABELS,
    )


@bp.get("/users/<int:user_id>")
@permission_required("users.view")
def user(user_id):
    return details_page(own(User, user_id))


@bp.post("/users/<int:user_id>")
@permission_required("users.edit")
def save_user(user_id):
    user = own(User, user_id)
    form = details_form(user, submitted=True)
    if not form.validate_on_submit():
        return details_page(user, form=form, status=422)
    problem = hierarchy_problem(form.groups.data, target=user)
    if problem:
        return details_page(user, form=form, status=403, notice=problem)
    if (form.status.data != user.status or form.ip_allowlist.data != user.ip_allowlist) and not recently_confirmed(form):
        return details_page(user, form=form, status=422)
    problem = details_problem(me(), user, form, request.remote_addr)
    if problem:
        return details_page(user, form=form, status=409, notice=problem)
    problem = apply_details(me(), user, form, client_meta())
    if problem:
        return details_page(user, form=form, status=409, notice=problem)
    flash(_("Changes to %(email)s saved.", email=user.email), "success")
    return see_other(url_for("admin.user", user_id=user.id))


def recently_confirmed(form):
    """SECURITY.md 30: a change to someone's status or IP whitelist needs the actor's password entered
    within REAUTH_MINUTES, as the security center does; else the form asks for it (input kept)."""
    if not reauth_expired():
        return True
    form.password_needed = True
    if not form.password.data:
        form.password.errors.append(_("Enter your password to change the status or the IP whitelist."))
        return False
    problem = password_problem(me(), form.password.data)
    if problem:
        form.password.errors.append(problem)
        return False
    renew_session_id()
    audit.record("reauth", actor=me(), **client_meta())
    return True

