"""The events log: every admin action and security-relevant change of the organization, with filters,
keyset pages and comments (seed 004). Reading needs events.view; commenting also events.comment."""
import functools
from datetime import datetime, time, timedelta

from flask import flash, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import to_utc
from wtforms import DateField, SelectField, StringField, TextAreaField
from wtforms.validators import Optional, ValidationError

from extensions import locale_code
from models import AuditEvent, User
from services import audit
from services.permissions import has_permission, permission_required
from services.useragent import describe as describe_device

from blueprints import render, see_other, wants_fragment
from blueprints.forms import Form, lookup_email, max_length, normalize_email, required
from blueprints.person.pictures import preload_avatars
from blueprints.admin.core import bp, me, own

COMMENT_MAX = 2000


@functools.cache
def action_choices(locale):
    """The filter's actions, named and sorted in `locale` (which must be the request's: the names are translated
    here), worked out once per language: some ninety names were a good part of the page's cost."""
    return tuple(sorted(((code, str(label)) for code, label in audit.ACTIONS.items()), key=lambda item: item[1].casefold()))


class EventFilters(Form):
    """The GET filters; no CSRF token (they change nothing)."""

    class Meta:
        csrf = False

    actor = StringField(_l("Who (e-mail)"), validators=[max_length(254)])
    action = SelectField(_l("Action"), choices=[], validate_choice=False)
    target = StringField(_l("Target"), validators=[max_length(200)])
    ip = StringField(_l("IP address"), validators=[max_length(45)])
    since = DateField(_l("From"), validators=[Optional()])
    until = DateField(_l("To"), validators=[Optional()])

    def __init__(self, *args, organization_id=None, **kwargs):
        """`organization_id`: whose people the actor is looked up among (default: the signed-in person's; the
        API passes its key owner's)."""
        self.organization_id = organization_id or me().organization_id
        super().__init__(*args, **kwargs)
        self.action.choices = [("", _("Any")), *action_choices(locale_code())]
        self.actor_user = None

    def validate_action(self, field):
        if field.data and field.data not in audit.ACTIONS:
            raise ValidationError(_l("Choose an action from the list."))

    def validate_actor(self, field):
        if not field.data:
            return
        email = lookup_email(field.data)  # also an address saved under older rules (the old demo's `.local`)
        self.actor_user = User.get_or_none(User.email == email, User.organization == self.organization_id)
        if self.actor_user is None:
            normalize_email(field.data)  # a malformed address is told so rather than "no such user"
            raise ValidationError(_l("There is no user with this e-mail in your organization."))

    def validate_ip(self, field):
        """One address, as the log stores it (normalised: "::FFFF:1" and " 10.0.0.1 " find their events)."""
        if field.data:
            import ipaddress

            try:
                field.data = str(ipaddress.ip_address(field.data))
            except ValueError:
                raise ValidationError(_l("Enter one IP address, like 203.0.113.5 or 2001:db8::1.")) from None

    def validate_until(self, field):
        if field.data and self.since.data and field.data < self.since.data:
            raise ValidationError(_l("The end date is before the start date."))

    def active(self):
        """The filters in force, for the pager's links."""
        values = {name: self[name].data for name in ("actor", "action", "target", "ip")}
        values.update({name: self[name].data.isoformat() for name in ("since", "until") if self[name].data})
        return {k: v for k, v in values.items() if v}


class CommentForm(Form):
    text = TextAreaField(_l("Comment"), validators=[required(_l("Write a comment.")), max_length(COMMENT_MAX)])


def day_start_utc(day):
    """Midnight of `day` in the viewer's time zone, as naive UTC."""
    return to_utc(datetime.combine(day, time.min))


def filter_arguments(form):
    """audit.events_page's filters from a valid EventFilters (days in the viewer's time zone)."""
    return dict(
        actor_id=form.actor_user.id if form.actor_user else None,
        action=form.action.data or "",
        target=form.target.data or "",
        ip=form.ip.data or "",
        since=day_start_utc(form.since.data) if form.since.data else None,
        until=day_start_utc(form.until.data + timedelta(days=1)) if form.until.data else None,
    )


@bp.get("/events")
@permission_required("events.view")
def events():
    form = EventFilters(request.args)
    status, rows, newer, older = 200, [], None, None
    if form.validate():
        rows, newer, older = audit.events_page(
            me().organization_id,
            **filter_arguments(form),
            older_than=audit.decode_cursor(request.args.get("older")),
            newer_than=None if request.args.get("older") else audit.decode_cursor(request.args.get("newer")),
        )
    else:
        status = 422
    preload_avatars(row.actor_id for row in rows)
    return render(
        "admin/events.html",
        block="events_table",
        status=status,
        form=form,
        fragment=wants_fragment(),
        filters=form.active() if status == 200 else {},
        rows=rows,
        newer=newer,
        older=older,
        comments=audit.comment_counts([row.id for row in rows]),
        action_label=audit.action_label,
    )


def event_page(event, form=None, status=200, message=None):
    comments = audit.comments_of(event)
    preload_avatars([event.actor_id] + [c.author_id for c in comments])
    return render(
        "admin/event.html",
        block="comments_block",
        status=status,
        event=event,
        actor=event.actor if event.actor_id else None,
        details=audit.details_of(event),
        action_label=audit.action_label,
        known_actions=audit.ACTIONS,
        describe_device=describe_device,
        comments=comments,
        form=form or CommentForm(formdata=None),
        can_comment=has_permission(me(), "events.comment"),
        message=message,
    )


@bp.get("/events/<int:event_id>")
@permission_required("events.view")
def event(event_id):
    return event_page(own(AuditEvent, event_id))


@bp.post("/events/<int:event_id>/comments")
@permission_required("events.view")
@permission_required("events.comment")
def comment_event(event_id):
    event = own(AuditEvent, event_id)
    form = CommentForm()
    if not form.validate_on_submit():
        return event_page(event, form=form, status=422)
    audit.add_comment(event, me(), form.text.data)
    if wants_fragment():
        return event_page(event, message=_("Comment added."))
    flash(_("Comment added."), "success")
    return see_other(url_for("admin.event", event_id=event.id, _anchor="comments"))
