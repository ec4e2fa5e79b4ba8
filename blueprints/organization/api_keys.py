"""API keys page (/app/security/api-keys): create, list, rename, change scopes, revoke (issue 5, seed 003).

The routes join the security blueprint, so its re-authentication rule (password younger than
REAUTH_MINUTES, SECURITY.md 11) covers them. A new key is shown once, in the answer to the POST
that made it (never put in the session cookie or a URL); only its hash and prefix are stored.
"""
from datetime import date, datetime, timedelta

from flask import abort, flash, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import SelectChoice, SelectMultipleField, StringField
from wtforms.validators import ValidationError

from models import ApiKey, User, utcnow, write_transaction
from services import apikeys, audit

from blueprints import render, see_other
from blueprints.auth import client_meta
from blueprints.forms import Form, max_length, required
from blueprints.person.security import bp, me, owned_or_404

PAGE = "security/api_keys.html"
EDIT_PAGE = "security/api_key_edit.html"
SCOPE_LABELS = {"read": _l("Read"), "write": _l("Write")}


class ScopesField(SelectMultipleField):
    """Checkboxes for the scopes; an unknown value gets a translated message (422), never WTForms' own."""

    def __init__(self, label=None, **kwargs):
        super().__init__(label, choices=[SelectChoice(s, SCOPE_LABELS[s]) for s in apikeys.SCOPES], **kwargs)

    def pre_validate(self, form):
        unknown = [value for value in self.data or [] if value not in apikeys.SCOPES]
        if unknown:
            raise ValidationError(_l("Unknown scope “%(scope)s”. The scopes are read and write.", scope=unknown[0][:40]))
        if not self.data:
            raise ValidationError(_l("Choose at least one scope."))


def parse_expiry(text):
    """The expiry date typed (YYYY-MM-DD, as a date input sends it), or None; ValidationError when invalid."""
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise ValidationError(_l("Enter a date like 2026-12-31.")) from None
    today = utcnow().date()
    if day <= today:
        raise ValidationError(_l("Choose a date after today."))
    if day > today + timedelta(days=apikeys.MAX_EXPIRY_DAYS):
        raise ValidationError(_l("A key can last at most three years."))
    return day


class ApiKeyForm(Form):
    name = StringField(_l("Name"), validators=[required(_l("Give the key a name.")), max_length(apikeys.NAME_MAX)],
                       description=_l("Where the key is used, e.g. “CRM import”."))
    scopes = ScopesField(_l("Scopes"))


class NewApiKeyForm(ApiKeyForm):
    expires_on = StringField(_l("Expires on"), validators=[max_length(10)],
                             description=_l("Optional. The key stops working at the start of this day (UTC)."))

    def validate_expires_on(self, field):
        parse_expiry(field.data)


def expiry_datetime(day):
    return datetime(day.year, day.month, day.day) if day else None


def page(status=200, block="create_card", form=None, new_key=None, new_row=None):
    user = me()
    return render(
        PAGE, block=block, status=status, oob=("keys_table",) if new_key else (),
        form=form or NewApiKeyForm(formdata=None, scopes=["read"]), keys=apikeys.keys_of(user),
        new_key=new_key, new_row=new_row, state=apikeys.state, scope_labels=SCOPE_LABELS,
        min_expiry=(utcnow().date() + timedelta(days=1)).isoformat(),
    )


@bp.get("/api-keys")
def api_keys():
    return page()


@bp.post("/api-keys")
def create_api_key():
    user = me()
    form = NewApiKeyForm()
    if not form.validate_on_submit():
        return page(422, form=form)
    with write_transaction((User, user.id)):
        if apikeys.live_keys(user).count() >= apikeys.MAX_LIVE_KEYS:
            form.form_errors.append(_("You have %(n)d working keys, the most allowed. Revoke one first.",
                                      n=apikeys.MAX_LIVE_KEYS))
            return page(422, form=form)
        expires_at = expiry_datetime(parse_expiry(form.expires_on.data))
        key, row = apikeys.create_key(user, form.name.data, form.scopes.data, expires_at)
        audit.record("apikey.created", actor=user, target=row.prefix, name=row.name, scopes=row.scopes,
                     expires_at=expires_at, **client_meta())
    # 201 with the key in the body: shown once, in this answer only.
    return page(201, form=NewApiKeyForm(formdata=None, scopes=["read"]), new_key=key, new_row=row)


def own_key(key_id):
    return owned_or_404(ApiKey, key_id, ApiKey.user == me().id)


@bp.route("/api-keys/<int:key_id>", methods=["GET", "POST"])
def edit_api_key(key_id):
    row = own_key(key_id)
    if row.revoked_at is not None:
        abort(404)
    form = ApiKeyForm(data={"name": row.name, "scopes": row.scope_list})
    if form.validate_on_submit():
        changed = apikeys.update_key(row, form.name.data, form.scopes.data)
        if changed:
            audit.record("apikey.changed", actor=me(), target=row.prefix, changed=changed,
                         scopes=" ".join(s for s in apikeys.SCOPES if s in form.scopes.data), **client_meta())
        flash(_("The key “%(name)s” is saved.", name=form.name.data), "success")
        return see_other(url_for("security.api_keys"))
    status = 422 if form.is_submitted() else 200
    return render(EDIT_PAGE, block="edit_form", status=status, form=form, row=row, state=apikeys.state)


@bp.post("/api-keys/<int:key_id>/revoke")
def revoke_api_key(key_id):
    row = own_key(key_id)
    if apikeys.revoke(row):
        audit.record("apikey.revoked", actor=me(), target=row.prefix, name=row.name, **client_meta())
        flash(_("The key “%(name)s” is revoked; requests with it are refused from now on.", name=row.name), "success")
    return see_other(url_for("security.api_keys"))
