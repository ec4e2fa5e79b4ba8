"""Notifications: the channel grid and low-balance alert of /app/personal-data, the bell and the feed
(/app/notifications), and the list of operations (/app/operations)."""
import hashlib
import json

from flask import Blueprint, abort, current_app, flash, make_response, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from peewee import fn

from extensions import locale_code
from models import LowBalanceAlert, Notification, Prepared
from models.notifications import CATEGORIES, CHANNELS
from services import audit
from services.notifications import (CATEGORY_LABELS, CATEGORY_PERMISSION, CHANNEL_LABELS, OPERATION_KINDS, channel_problems, feed_page,
                                    mark_read, notification_view, parse_threshold, preferences, set_preference,
                                    set_threshold)
from services.operations import any_active, operations_page
from services.results import message_text
from services.permissions import has_permission
from services.region import currency_symbol, format_money

from blueprints import is_htmx, render, render_blocks, see_other, wants_fragment
from blueprints.bounds import bounded_id
from blueprints.auth import client_meta
from blueprints.forms import Form

bp = Blueprint("notifications", __name__, url_prefix="/app")
SECTION = "notifications/_section.html"
# Categories a person only sees with a permission (seed 002: billing needs the billing section).


@bp.before_request
@login_required
def require_login():
    """Every page of this area needs a signed-in person."""


def me():
    return current_user._get_current_object()


def categories_for(user):
    return [c for c in CATEGORIES if c not in CATEGORY_PERMISSION or has_permission(user, CATEGORY_PERMISSION[c])]


def setup_url(user, channel):
    if channel == "sms":
        return url_for("profile.personal_data") + "#phone-section"
    if channel in ("telegram", "slack") and current_app.config.get(f"{channel.upper()}_BOT_TOKEN") \
            and has_permission(user, "users.edit"):
        return url_for("admin.user", user_id=user.id)
    return None


def offered(channel):
    """Whether this server offers the channel at all: Telegram and Slack only with their bot set up."""
    return channel not in ("telegram", "slack") or bool(current_app.config.get(f"{channel.upper()}_BOT_TOKEN"))


@bp.app_template_global()
def notification_grid(user):
    """The section's grid, as tuples the template unpacks: the columns (code, label, why unusable) of the channels
    this server offers, a row (code, label, boxes) per category with a box (channel, URL it posts to, ticked) per
    column, no URL for a box that cannot be ticked; and the notes (code, label, why, where to fix it) of the
    columns that cannot be used. A channel the server does not offer has neither column nor note."""
    problems = channel_problems(user, current_app.config)
    chosen = preferences(user)
    shown = [ch for ch in CHANNELS if offered(ch)]
    columns = [(ch, CHANNEL_LABELS[ch], problems.get(ch)) for ch in shown]
    rows = [(category, CATEGORY_LABELS[category],
             [(ch, None, False) if ch in problems else
              (ch, url_for("notifications.save_box", category=category, channel=ch), chosen[(category, ch)])
              for ch in shown])
            for category in categories_for(user)]
    notes = [(ch, CHANNEL_LABELS[ch], problems[ch], setup_url(user, ch)) for ch in shown if ch in problems]
    return {"columns": columns, "rows": rows, "notes": notes}


ALERT_OF = Prepared(lambda user_id: LowBalanceAlert.select().where(LowBalanceAlert.user == user_id))


@bp.app_template_global()
def low_balance_view(user, saved=False):
    """None when the person may not see billing; else the threshold as typed in the form and the currency, and
    once it was `saved`, the amount as the confirmation states it."""
    if not has_permission(user, "billing.view"):
        return None
    alert = ALERT_OF.first(user.id)
    return {"value": f"{alert.threshold:.2f}" if alert else "", "currency": currency_symbol(user.organization.currency, locale_code()),
            "shown": format_money(alert.threshold, user.organization.currency, locale_code()) if alert and saved else ""}


def section_page(block, status=200, **context):
    """The section's `block` for htmx; without JS the whole personal-data page (the section shows the outcome)."""
    from blueprints.person.profile import PAGE, page_context

    if wants_fragment():
        return render(SECTION, block=block, status=status, user=me(), **context)
    return render(PAGE, status=status, **page_context(me(), **context))


@bp.post("/personal-data/notifications/<category>/<channel>")
def save_box(category, channel):
    """One checkbox, saved the moment it changes: one upsert and a small state fragment."""
    user = me()
    if category not in categories_for(user) or channel not in CHANNELS:
        abort(404)
    if not Form().validate_on_submit():
        abort(400)
    if channel in channel_problems(user, current_app.config):
        return render(SECTION, block="box_state", status=422, user=user,
                      box_error=_("This channel cannot be used yet: see the note under the table."))
    enabled = request.form.get(f"{category}.{channel}") == "1"
    set_preference(user, category, channel, enabled)
    if not is_htmx():
        return see_other(url_for("profile.personal_data") + "#notifications")
    return render(SECTION, block="box_state", user=user, box_saved=True)


@bp.post("/personal-data/notifications")
def save_grid():
    """The Save button (JS off): every box of the grid the person may change, ticked or not."""
    user = me()
    if not Form().validate_on_submit():
        abort(400)
    unusable = channel_problems(user, current_app.config)
    for category in categories_for(user):
        for channel in CHANNELS:
            if channel not in unusable:
                set_preference(user, category, channel, request.form.get(f"{category}.{channel}") == "1")
    flash(_("Your notification choices have been saved."), "success")
    return see_other(url_for("profile.personal_data") + "#notifications")


@bp.post("/personal-data/notifications/low-balance")
def save_threshold():
    """The low-balance threshold in the organization's currency; empty removes the alert."""
    user = me()
    if not has_permission(user, "billing.view"):
        abort(403)
    if not Form().validate_on_submit():
        abort(400)
    raw = request.form.get("threshold", "")[:100]
    threshold = parse_threshold(raw)
    if raw.strip() and threshold is None:
        return section_page("low_balance", status=422, threshold_input=raw,
                            threshold_error=_("Enter an amount of zero or more, like 50 or 50.00."))
    set_threshold(user, threshold)
    audit.record("notifications.low_balance", actor=user, threshold=str(threshold or ""), **client_meta())
    if not wants_fragment():
        flash(_("The low-balance alert has been saved.") if threshold is not None
              else _("The low-balance alert is off."), "success")
        return see_other(url_for("profile.personal_data") + "#notifications")
    return render(SECTION, block="low_balance", user=user, threshold_saved=True)


# --- the bell and the feed ------------------------------------------------------------------------------


UNREAD_SUMMARY = Prepared(  # asked by the bell on every page and every poll
    lambda user_id: Notification.select(fn.COUNT(Notification.id), fn.MAX(Notification.id))
    .where(Notification.user == user_id, Notification.read_at.is_null())
)


def unread_summary(user_id):
    """(unread count, newest unread id) in one query over the (user, read_at) index."""
    count, newest = UNREAD_SUMMARY.row(user_id)
    return count or 0, newest or 0


@bp.app_template_global()
def bell_state():
    if not current_user.is_authenticated:
        return {"unread": 0}
    count, _newest = unread_summary(current_user.id)
    return {"unread": count}


@bp.get("/notifications/bell")
def bell():
    """The bell alone, for its poll: one indexed query, and 304 (nothing rendered) when nothing changed."""
    if not is_htmx():  # a plain visit gets the page the bell links to
        return see_other(url_for("notifications.feed"))
    count, newest = unread_summary(current_user.id)
    tag = 'W/"bell-' + hashlib.sha256(f"{count}.{newest}.{locale_code()}".encode()).hexdigest()[:16] + '"'
    if tag in request.headers.get("If-None-Match", ""):
        response = make_response("", 304)
    else:
        response = make_response(render_blocks("base.html", ["bell"]))
    response.headers["ETag"] = tag
    # the browser may keep it but must ask each time; its conditional request gets the 304 above
    response.headers["Cache-Control"] = "private, no-cache"
    return response


def feed_context(user):
    before = bounded_id(request.args.get("before"))
    rows, next_before = feed_page(user.id, before=before)
    locale = locale_code()
    items = [notification_view(row, user, locale) for row in rows]
    for item, row in zip(items, rows):
        item["url"] = json.loads(row.data or "{}").get("result_url", "")
        item["url"] = item["url"] if item["url"].startswith("/") and not item["url"].startswith("//") else ""
        item["created_at"] = row.created_at
    return {"items": items, "next_before": next_before, "first_page": before is None,
            "unread": unread_summary(user.id)[0]}


@bp.get("/notifications")
def feed():
    return render("notifications/feed.html", block="feed_list", **feed_context(me()))


@bp.post("/notifications/<int:notification_id>/read")
def read_one(notification_id):
    user = me()
    if not Form().validate_on_submit():
        abort(400)
    row = Notification.get_or_none(Notification.id == notification_id, Notification.user == user.id) or abort(404)
    mark_read(user.id, row.id)
    if not wants_fragment():
        return see_other(url_for("notifications.feed"))
    return render("notifications/feed.html", block="feed_list", oob=("bell",), **feed_context(user))


@bp.post("/notifications/read-all")
def read_all():
    user = me()
    if not Form().validate_on_submit():
        abort(400)
    mark_read(user.id)
    if not wants_fragment():
        flash(_("All notifications are marked as read."), "success")
        return see_other(url_for("notifications.feed"))
    return render("notifications/feed.html", block="feed_list", oob=("bell",), **feed_context(user))


# --- the list of operations ---------------------------------------------------------------------------------

OPERATION_STATUS_LABELS = {"pending": _l("Pending"), "running": _l("In progress"), "completed": _l("Completed"),
                           "failed": _l("Failed")}


def operations_context(user):
    before = bounded_id(request.args.get("before"))
    # the product's jobs (POST /api/v1/operations) are the whole organization's
    shared = ("product", "client_import") if has_permission(user, "clients.view") else ("product",)
    rows, next_before = operations_page(user, shared, before=before)
    return {"operations": rows, "next_before": next_before, "first_page": before is None,
            "running": any_active(user, shared), "kind_labels": OPERATION_KINDS,
            "status_labels": OPERATION_STATUS_LABELS, "worded": message_text}


@bp.get("/operations")
def operations():
    """Seed 003: the organization's jobs; while one runs, the table asks for itself every few seconds."""
    return render("notifications/operations.html", block="operations_table", **operations_context(me()))

