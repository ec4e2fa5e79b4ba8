"""Webhooks pages (/app/security/webhooks): an organization's endpoints, their secrets (rotated with an
overlap), the delivery log with each delivery's detail page and "Send again", and "Send test event"
(issue 5, seed 003). Owners and administrators only; the routes join the security
blueprint, so re-authentication applies. Sending is services.webhooks' job."""
import json

from flask import abort, current_app, flash, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, SelectChoice, SelectField, SelectMultipleField, StringField
from wtforms.validators import ValidationError

from extensions import count_attempt, seconds_until_allowed
from models import Organization, Webhook, WebhookAttempt, WebhookDelivery, db, utcnow, write_transaction
from services import audit, webhooks

from blueprints import render, see_other
from blueprints.bounds import bounded_id
from blueprints.auth import client_meta, wait_message
from blueprints.forms import Form
from blueprints.person.security import ADMIN_ROLES, bp, me, owned_or_404

PAGE = "security/webhooks.html"
ENDPOINT_PAGE = "security/webhook.html"
DELIVERY_PAGE = "security/webhook_delivery.html"
LOG_PAGE = 25
TEST_LIMIT = "10 per minute"  # test events one person may send


class EventsField(SelectMultipleField):
    def __init__(self, label=None, **kwargs):
        super().__init__(label, choices=[SelectChoice(k, v) for k, v in webhooks.event_types().items()], **kwargs)

    def pre_validate(self, form):
        unknown = [value for value in self.data or [] if value not in webhooks.event_types()]
        if unknown:
            raise ValidationError(_l("Unknown event type “%(event)s”.", event=unknown[0][:60]))
        if not self.data:
            raise ValidationError(_l("Choose at least one event."))


class WebhookForm(Form):
    url = StringField(_l("URL"), description=_l("Where we POST the events, e.g. https://example.com/hooks/kabinet."))
    events = EventsField(_l("Events"))
    enabled = BooleanField(_l("Send events to this endpoint"), default=True)

    def validate_url(self, field):
        problem = webhooks.url_problem(field.data or "", current_app.config)
        if problem:
            raise ValidationError(problem)


OVERLAP_LABELS = {0: _l("No: the old secret stops signing at once"), 1: _l("1 hour"), 24: _l("1 day"),
                  72: _l("3 days"), 168: _l("7 days")}  # one per webhooks.OVERLAP_CHOICES


class RotateForm(Form):
    overlap = SelectField(_l("Keep the old secret signing for"), default="24", validate_choice=False,
                          choices=[SelectChoice(str(h), OVERLAP_LABELS[h]) for h in webhooks.OVERLAP_CHOICES],
                          description=_l("Both secrets sign every delivery meanwhile, so your receiver can switch "
                                         "without losing events."))

    def validate_overlap(self, field):
        if field.data not in [str(h) for h in webhooks.OVERLAP_CHOICES]:
            raise ValidationError(_l("Choose one of the listed periods."))


def admin():
    user = me()
    if user.role not in ADMIN_ROLES:
        abort(403)
    return user


def own_hook(hook_id):
    return owned_or_404(Webhook, hook_id, Webhook.organization == admin().organization_id)


def list_page(status=200, form=None, new_hook=None, secret=None):
    user = admin()
    hooks = list(Webhook.select().where(Webhook.organization == user.organization_id).order_by(Webhook.id))
    return render(PAGE, block="create_card", status=status, oob=("hooks_table",) if secret else (),
                  form=form or WebhookForm(formdata=None, events=list(webhooks.event_types())), hooks=hooks,
                  new_hook=new_hook, secret=secret, event_labels=webhooks.event_types())


@bp.get("/webhooks", endpoint="webhooks")
def webhooks_page():
    return list_page()


@bp.post("/webhooks")
def create_webhook():
    user = admin()
    form = WebhookForm()
    if not form.validate_on_submit():
        return list_page(422, form=form)
    with write_transaction((Organization, user.organization_id)):
        if Webhook.select().where(Webhook.organization == user.organization_id).count() >= webhooks.MAX_ENDPOINTS:
            form.form_errors.append(_("Your organization has %(n)d endpoints, the most allowed. Delete one first.",
                                      n=webhooks.MAX_ENDPOINTS))
            return list_page(422, form=form)
        hook, secret = webhooks.create_endpoint(user.organization_id, user, form.url.data, form.events.data)
        if not form.enabled.data:
            Webhook.update(enabled=False).where(Webhook.id == hook.id).execute()
        audit.record("webhook.created", actor=user, target=hook.url, events=hook.events, **client_meta())
    return list_page(201, form=WebhookForm(formdata=None, events=list(webhooks.event_types())), new_hook=hook,
                     secret=secret)


def overlap_until(hook):
    """When the previous secret stops signing, or None."""
    until = hook.previous_secret_until
    return until if hook.previous_secret_encrypted and until and until > utcnow() else None


def endpoint_page(hook, status=200, form=None, secret=None, block="endpoint_form", rotate_form=None):
    query = WebhookDelivery.select().where(WebhookDelivery.webhook == hook.id)
    before = bounded_id(request.args.get("before"))
    if before is not None:
        query = query.where(WebhookDelivery.id < before)
    deliveries = list(query.order_by(WebhookDelivery.id.desc()).limit(LOG_PAGE + 1))
    more = len(deliveries) > LOG_PAGE
    deliveries = deliveries[:LOG_PAGE]
    form = form or WebhookForm(formdata=None, url=hook.url, events=hook.event_list, enabled=hook.enabled)
    return render(ENDPOINT_PAGE, block=block, status=status, hook=hook, form=form, secret=secret,
                  rotate_form=rotate_form or RotateForm(formdata=None), overlap_until=overlap_until(hook),
                  deliveries=deliveries, next_before=deliveries[-1].id if more else None,
                  event_labels={**webhooks.event_types(), webhooks.TEST_EVENT: _("Test event")})


@bp.route("/webhooks/<int:hook_id>", methods=["GET", "POST"])
def webhook(hook_id):
    hook = own_hook(hook_id)
    if request.method == "GET":
        block = "delivery_rows" if request.args.get("before") else "endpoint_form"
        return endpoint_page(hook, block=block)
    form = WebhookForm()
    if not form.validate_on_submit():
        return endpoint_page(hook, 422, form=form)
    events = " ".join(e for e in webhooks.event_types() if e in form.events.data)
    changed = [name for name, old, new in (("url", hook.url, form.url.data), ("events", hook.events, events),
                                           ("enabled", hook.enabled, bool(form.enabled.data))) if old != new]
    if changed:
        with db.atomic():
            Webhook.update(url=form.url.data, events=events, enabled=bool(form.enabled.data)).where(
                Webhook.id == hook.id).execute()
            audit.record("webhook.changed", actor=me(), target=form.url.data, changed=changed, **client_meta())
    flash(_("The endpoint is saved."), "success")
    return see_other(url_for("security.webhook", hook_id=hook.id))


@bp.post("/webhooks/<int:hook_id>/test")
def test_webhook(hook_id):
    hook = own_hook(hook_id)
    user = me()
    wait = seconds_until_allowed(TEST_LIMIT, "webhook-test", str(user.id))
    if wait:
        flash(wait_message(wait), "error")
        return see_other(url_for("security.webhook", hook_id=hook.id))
    count_attempt(TEST_LIMIT, "webhook-test", str(user.id))
    delivery = webhooks.queue_test(hook)
    state = webhooks.deliver_now(delivery.id, current_app.config)
    delivery = WebhookDelivery.get_by_id(delivery.id)
    if state == "delivered":
        flash(_("The test event was delivered: HTTP %(code)s in %(ms)s ms.", code=delivery.status_code,
                ms=delivery.duration_ms), "success")
    else:
        flash(_("The test event was not delivered (%(error)s). It will be retried.",
                error=delivery.error or _("no answer")), "error")
    return see_other(url_for("security.webhook", hook_id=hook.id))


@bp.post("/webhooks/<int:hook_id>/secret")
def rotate_webhook_secret(hook_id):
    hook = own_hook(hook_id)
    form = RotateForm()
    if not form.validate_on_submit():
        return endpoint_page(hook, 422, block="secret_box", rotate_form=form)
    hours = int(form.overlap.data)
    with db.atomic():
        secret = webhooks.rotate_secret(hook, overlap_hours=hours)
        audit.record("webhook.changed", actor=me(), target=hook.url, changed=["secret"], overlap_hours=hours,
                     **client_meta())
    return endpoint_page(Webhook.get_by_id(hook.id), secret=secret, block="secret_box")


# --- one delivery ---------------------------------------------------------------------------------


def own_delivery(hook, delivery_id):
    return owned_or_404(WebhookDelivery, delivery_id, WebhookDelivery.webhook == hook.id)


def pretty_json(text):
    """The payload indented for reading (the bytes sent are the compact form)."""
    try:
        return json.dumps(json.loads(text), ensure_ascii=False, indent=2)
    except ValueError:
        return text


@bp.get("/webhooks/<int:hook_id>/deliveries/<int:delivery_id>")
def webhook_delivery(hook_id, delivery_id):
    hook = own_hook(hook_id)
    delivery = own_delivery(hook, delivery_id)
    attempts = list(WebhookAttempt.select().where(WebhookAttempt.delivery == delivery.id)
                    .order_by(WebhookAttempt.number.desc(), WebhookAttempt.id.desc()))
    for row in attempts:
        row.sent = json.loads(row.request_headers or "[]")
        row.answer_headers = json.loads(row.response_headers or "[]")
    return render(DELIVERY_PAGE, hook=hook, delivery=delivery, attempts=attempts, body=pretty_json(delivery.payload),
                  body_bytes=len(delivery.payload.encode()),
                  event_labels={**webhooks.event_types(), webhooks.TEST_EVENT: _("Test event")})


@bp.post("/webhooks/<int:hook_id>/deliveries/<int:delivery_id>/again")
def send_delivery_again(hook_id, delivery_id):
    """A new delivery with the same event body, sent at once like a test event (and retried if it fails)."""
    hook = own_hook(hook_id)
    delivery = own_delivery(hook, delivery_id)
    user = me()
    wait = seconds_until_allowed(TEST_LIMIT, "webhook-test", str(user.id))
    if wait:
        flash(wait_message(wait), "error")
        return see_other(url_for("security.webhook_delivery", hook_id=hook.id, delivery_id=delivery.id))
    count_attempt(TEST_LIMIT, "webhook-test", str(user.id))
    again = webhooks.queue_again(delivery)
    state = webhooks.deliver_now(again.id, current_app.config)
    again = WebhookDelivery.get_by_id(again.id)
    if state == "delivered":
        flash(_("Sent again and delivered: HTTP %(code)s in %(ms)s ms.", code=again.status_code,
                ms=again.duration_ms), "success")
    else:
        flash(_("Sent again but not delivered (%(error)s). It will be retried.", error=again.error or _("no answer")),
              "error")
    return see_other(url_for("security.webhook_delivery", hook_id=hook.id, delivery_id=again.id))


@bp.post("/webhooks/<int:hook_id>/delete")
def delete_webhook(hook_id):
    hook = own_hook(hook_id)
    with db.atomic():
        Webhook.delete().where(Webhook.id == hook.id).execute()
        audit.record("webhook.deleted", actor=me(), target=hook.url, **client_meta())
    flash(_("The endpoint is deleted."), "success")
    return see_other(url_for("security.webhooks"))
