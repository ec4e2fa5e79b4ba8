"""Bulk actions on the users list (/admin/users): the ticked people are posted with the chosen action
to a confirmation page that says how many and who (and who is skipped, and why); confirming applies
it under the rules of the action one at a time (services/user_bulk.py). Disabling needs the actor's
password entered within REAUTH_MINUTES, as it does on a person's page (SECURITY.md 30). A plain form:
the same with JavaScript on and off."""
from flask import flash, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import PasswordField, SelectField

from models import Group
from services import user_bulk
from services.permissions import permission_required

from blueprints import render, see_other
from blueprints.forms import Form, max_length
from blueprints.person.security import reauth_expired
from blueprints.admin.core import bp, client_meta, me
from blueprints.admin.users import recently_confirmed

SHOWN = 20  # names listed on the confirmation page; the rest are "and N more"


class BulkForm(Form):
    action = SelectField(_l("Action"), choices=[], validate_choice=False)
    group = SelectField(_l("Group"), choices=[], validate_choice=False)
    password = PasswordField(_l("Your password"), validators=[max_length(1024)])
    password_needed = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.action.choices = [("", _l("Choose an action"))] + list(user_bulk.ACTIONS.items())
        self.groups = {str(g.id): g for g in Group.select().where(Group.organization == me().organization_id).order_by(Group.name)}
        self.group.choices = [("", _l("Choose a group"))] + [(key, g.display_name) for key, g in self.groups.items()]


def check(form, ids):
    """(status, group) after checking the choices; the messages are left at the fields."""
    status, group = 200, None
    if form.action.data not in user_bulk.ACTIONS:
        form.action.errors.append(_("Choose what to do with the ticked people."))
        status = 422
    elif form.action.data in user_bulk.GROUP_ACTIONS:
        group = form.groups.get(form.group.data)
        if group is None:
            form.group.errors.append(_("Choose a group."))
            status = 422
        else:
            refusal = user_bulk.group_refusal(me(), group)
            if refusal:
                form.group.errors.append(refusal)
                status = 403
    if ids is None:
        form.form_errors.append(_("The ticked people could not be read. Tick them again on the users list."))
        status = 422
    elif not ids:
        form.form_errors.append(_("Tick at least one person on the users list."))
        status = 422
    elif len(ids) > user_bulk.MAX_PEOPLE:
        form.form_errors.append(_("At most %(n)d people at a time.", n=user_bulk.MAX_PEOPLE))
        status = 422
    return status, group


@bp.post("/users/bulk")
@permission_required("users.edit")
def users_bulk():
    form = BulkForm()
    if not form.validate_on_submit():
        return page(form, [], None, status=400 if form.csrf_token.errors else 422)
    ids = user_bulk.parse_ids(request.form.getlist("ids"))
    status, group = check(form, ids)
    if status != 200:
        return page(form, ids or [], None, status=status)
    plan = user_bulk.plan(me(), form.action.data, ids, group)
    if "confirm" not in request.form or not plan.people:
        form.password_needed = form.action.data == "disable" and reauth_expired()
        return page(form, ids, plan)
    if form.action.data == "disable" and not recently_confirmed(form):
        return page(form, ids, plan, status=422)
    done = user_bulk.apply(me(), plan, client_meta())
    flash(done_message(plan, done), "success")
    if plan.skipped:
        flash(skipped_message(plan.skipped), "info")
    return see_other(url_for("admin.users"))


def page(form, ids, plan, status=200):
    form.password.data = ""
    return render("admin/users_bulk.html", status=status, form=form, ids=ids, plan=plan, shown=SHOWN,
                  reasons=user_bulk.REASONS, action_label=user_bulk.ACTIONS.get(form.action.data, ""))


def done_message(plan, count):
    group = plan.group.display_name if plan.group is not None else ""
    return {
        "disable": _("Disabled: %(n)d.", n=count),
        "enable": _("Enabled: %(n)d.", n=count),
        "add_group": _("Added to “%(group)s”: %(n)d.", group=group, n=count),
        "remove_group": _("Removed from “%(group)s”: %(n)d.", group=group, n=count),
    }[plan.action]


def skipped_message(skipped):
    names = ", ".join(f"{person.display_name} ({user_bulk.REASONS[reason]})" for person, reason in skipped[:SHOWN])
    if len(skipped) > SHOWN:
        return _("Skipped: %(names)s and %(n)d more.", names=names, n=len(skipped) - SHOWN)
    return _("Skipped: %(names)s.", names=names)
