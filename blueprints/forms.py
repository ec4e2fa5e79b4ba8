"""Form pieces shared by several areas: limits, e-mail normalisation, the password policy."""
import re

from email_validator import EmailNotValidError, validate_email
from flask_babel import lazy_gettext as _l
from flask import request
from flask_wtf import FlaskForm
from flask_wtf.form import _Auto, _is_submitted
from werkzeug.datastructures import CombinedMultiDict
from wtforms import DateTimeField, PasswordField, StringField
from wtforms.validators import DataRequired, Length, ValidationError

from services.passwords import MAX_LENGTH, password_problem

from blueprints.bounds import bounded_id, within_calendar

EMAIL_MAX = 254


class Form(FlaskForm):
    """Base form: every field's data is stripped of surrounding whitespace, a text field left out of a
    submission is empty (not None, which a NOT NULL column refuses), and every date lies within
    bounds.DATE_MIN..DATE_MAX."""

    class Meta:
        def bind_field(self, form, unbound_field, options):
            filters = unbound_field.kwargs.get("filters", [])
            if unbound_field.field_class is not PasswordField:
                filters = [strip, *filters]
            if issubclass(unbound_field.field_class, DateTimeField) and len(unbound_field.args) < 2:  # DateField too
                options["validators"] = [*(unbound_field.kwargs.get("validators") or ()), within_calendar]
            return unbound_field.bind(form=form, filters=filters, **options)

        def wrap_formdata(self, form, formdata):
            """Flask-WTF's, less its JSON branch: HTML forms read form fields only, so a JSON body
            (a list, a nested object) is an empty submission that fails validation, not a 500."""
            if formdata is _Auto:
                if not _is_submitted():
                    return None
                return CombinedMultiDict((request.files, request.form)) if request.files else request.form
            return formdata

    def process(self, formdata=None, obj=None, data=None, extra_filters=None, **kwargs):
        super().process(formdata, obj, data, extra_filters, **kwargs)
        for field in self:
            if isinstance(field, StringField) and field.raw_data == [] and field.data is None:
                field.data = ""


def strip(value):
    return value.strip() if isinstance(value, str) else value


def shorten_choices(field, keep, part=None, size=64):
    """Show a long list in short views: the choices in `keep`, or with `part` ("1", "2"...) that run of `size`
    choices of the whole list; the chosen ones and the empty one always stay. Returns the runs' names ("A–E")
    for links to them. A chosen value that was never a choice stays out, so validation still refuses it.
    (Some 250 localized countries are 2.5 KB of gzip: a page with them all is over its weight budget.)"""
    everything = [choice for choice in field.choices if choice[0] != ""]
    runs = [everything[i:i + size] for i in range(0, len(everything), size)]
    index = (bounded_id(part) or 0) - 1
    if 0 <= index < len(runs):
        keep = {value for value, _label in runs[index]}
    chosen = set(field.data if isinstance(field.data, (list, tuple)) else [field.data])
    field.choices = [choice for choice in field.choices if choice[0] in keep or choice[0] in chosen or choice[0] == ""]
    return [f"{run[0][1][:1]}–{run[-1][1][:1]}" for run in runs]


def normalize_email(value):
    """The address in the form we store (lower-case), or raise ValidationError with a translated reason."""
    if not value:
        raise ValidationError(_l("Enter an e-mail address."))
    if len(value) > EMAIL_MAX:
        raise ValidationError(_l("An e-mail address is at most %(n)d characters.", n=EMAIL_MAX))
    try:
        return validate_email(value, check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        raise ValidationError(_l("Enter a valid e-mail address, like name@example.com.")) from None


class EmailAddress:
    """Validator that also normalises the field's data. With `stored(form)` (the address saved before), an
    unchanged address is kept as it is without a check: one saved under older rules (the old demo's
    `.local` addresses) must not stop the rest of the form from being saved."""

    def __init__(self, stored=None):
        self.stored = stored

    def __call__(self, form, field):
        stored = self.stored(form) if self.stored else None
        if stored and isinstance(field.data, str) and field.data.lower() == stored.lower():
            field.data = stored
            return
        field.data = normalize_email(field.data)


def lookup_email(value):
    """The address to look a person up by (forgotten password, the events filter): the normalised one when valid,
    else as typed in lower case, so an address saved under older rules still finds its person."""
    try:
        return normalize_email(value)
    except ValidationError:
        return (value or "").lower()


class StrongPassword:
    """SECURITY.md 1-2: length, zxcvbn and context words (the person's e-mail and name)."""

    def __init__(self, context=lambda form: ()):
        self.context = context

    def __call__(self, form, field):
        problem = password_problem(field.data or "", self.context(form))
        if problem:
            raise ValidationError(problem)


CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def plain_text(form, field):
    """No control characters (PostgreSQL refuses NUL, and none belong in a name or an address)."""
    if field.data and CONTROL_CHARS.search(field.data):
        raise ValidationError(_l("Remove the control characters from this field."))


def required(message=None):
    return DataRequired(message or _l("This field is required."))


def max_length(n):
    return Length(max=n, message=_l("At most %(max)d characters."))


password_length = Length(max=MAX_LENGTH, message=_l("At most %(max)d characters."))


class CheckDigits:
    """Validator for a Russian company identifier: `rule(value)` from services.checksums must hold.

    Empty values pass (combine with `required()` where the field is mandatory)."""

    def __init__(self, rule, message):
        self.rule = rule
        self.message = message

    def __call__(self, form, field):
        if field.data and not self.rule(field.data):
            raise ValidationError(self.message)


def tin_check():
    from services.checksums import valid_tin

    return CheckDigits(valid_tin, _l("Enter a valid TIN: 10 digits for a company, 12 for a person, with correct check digits."))


def kpp_check():
    from services.checksums import valid_kpp

    return CheckDigits(valid_kpp, _l("Enter a valid KPP: 9 characters, like 770401001."))


def ogrn_check():
    from services.checksums import valid_ogrn

    return CheckDigits(valid_ogrn, _l("Enter a valid OGRN: 13 digits with a correct check digit."))


def ogrnip_check():
    from services.checksums import valid_ogrnip

    return CheckDigits(valid_ogrnip, _l("Enter a valid OGRNIP: 15 digits with a correct check digit."))
