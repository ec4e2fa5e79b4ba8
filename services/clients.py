"""The client registry's rules: which clients a person sees (allowed tags, countries filter), data
masking, and CSV import. Pages and the API both go through `visible_clients` and `client_view`."""
import csv
import io
import re

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from models import (Client, ClientTag, ClientTagLink, Organization, User, UserAdminSettings, UserAllowedTag,
                    write_transaction)
from services import audit

IMPORT_MAX_ROWS = 5000
NAME_MAX = 200


def visibility_of(user):
    """(allowed tag ids or None for all, countries_except, country codes, mask) for `user`."""
    settings = UserAdminSettings.get_or_none(UserAdminSettings.user == user.id)
    tags = [link.tag_id for link in UserAllowedTag.select(UserAllowedTag.tag).where(UserAllowedTag.user == user.id)]
    if settings is None:
        return tags or None, False, [], False
    return tags or None, settings.countries_except, settings.country_list, settings.mask_data


def visible_clients(user, after_id=None, limit=50):
    """The clients of `user`'s organization that `user` may see, by id, `limit` at a time after `after_id`.

    Seed 004: with allowed tags set, only clients carrying one of them; with countries chosen, only those
    countries ("All except" off) or every country but those ("All except" on). Nothing set: all clients."""
    tags, except_, countries, _mask = visibility_of(user)
    query = Client.select().where(Client.organization == user.organization_id)
    if tags is not None:
        query = query.where(Client.id.in_(ClientTagLink.select(ClientTagLink.client).where(ClientTagLink.tag.in_(tags))))
    if countries:
        query = query.where(Client.country.not_in(countries) if except_ else Client.country.in_(countries))
    if after_id is not None:
        query = query.where(Client.id > after_id)
    return list(query.order_by(Client.id).limit(limit))


def mask_text(value):
    """Keep the first character of each word, star the rest: "Anna Smirnova" → "A*** S*******"."""
    return re.sub(r"(?<=\w)\w", "*", value or "")


def mask_email(value):
    if "@" not in (value or ""):
        return mask_text(value)
    local, _at, domain = value.partition("@")
    host, dot, tld = domain.rpartition(".")
    return f"{local[:1]}{'*' * max(len(local) - 1, 1)}@{mask_text(host) if dot else mask_text(tld)}{dot}{tld if dot else ''}"


def mask_phone(value):
    """"+79123456789" → "+7********89": the country code and the last two digits."""
    if not value:
        return ""
    try:
        code = str(phonenumbers.parse(value, None).country_code)
    except phonenumbers.NumberParseException:
        code = ""
    head = "+" + code if code else value[:1]
    return head + "*" * max(len(value) - len(head) - 2, 0) + value[-2:]


def client_view(client, tags, mask):
    """What a person is shown of `client`: a dict, personal data masked when `mask` is on."""
    return {
        "id": client.id,
        "name": mask_text(client.name) if mask else client.name,
        "email": mask_email(client.email) if mask else client.email,
        "phone": mask_phone(client.phone) if mask else client.phone,
        "country": client.country,
        "tags": tags,
    }


def client_views(user, clients):
    """`clients` as `user` may see them (tag captions in one query)."""
    _tags, _except, _countries, mask = visibility_of(user)
    captions = {c.id: [] for c in clients}
    if clients:
        links = (
            ClientTagLink.select(ClientTagLink.client, ClientTag.caption)
            .join(ClientTag)
            .where(ClientTagLink.client.in_(list(captions)))
            .order_by(ClientTag.caption)
        )
        for link in links:
            captions[link.client_id].append(link.tag.caption)
    return [client_view(c, captions[c.id], mask) for c in clients]


# --- client tags (the page and the API) ------------------------------------------------------------
# A caption is checked (the form: required, length, not taken) and written in one transaction under the
# organization's lock (models.write_transaction): two tags of one caption added at once get the form's
# message, not the unique index's error. `meta` is the audit event's ip, user_agent and via.


def organization_tags(organization_id):
    return list(ClientTag.select().where(ClientTag.organization == organization_id).order_by(ClientTag.caption))


def add_tag(user, form, **meta):
    """The form's caption as a new tag of `user`'s organization, or None when the form refuses it."""
    with write_transaction((Organization, user.organization_id)):
        if not form.validate():
            return None
        tag = ClientTag.create(organization=user.organization_id, caption=form.caption.data)
        audit.record("client_tag.created", actor=user, target=tag.caption, **meta)
    return tag


def rename_tag(user, tag, form, **meta):
    """Rename `tag` to the form's caption; False when the form refuses it."""
    with write_transaction((Organization, tag.organization_id)):
        if not form.validate():
            return False
        ClientTag.update(caption=form.caption.data).where(ClientTag.id == tag.id).execute()
        audit.record("client_tag.renamed", actor=user, target=form.caption.data, old_caption=tag.caption, **meta)
    return True


def delete_tag(user, tag, **meta):
    """Delete `tag`, or return why not: the only allowed tag of someone, who without it would see every
    client (no allowed tags means no limit), is kept until their allowed tags are changed."""
    from flask_babel import gettext as _

    with write_transaction((Organization, tag.organization_id)):  # not in the middle of an import (import_clients)
        others = UserAllowedTag.alias()
        limited = [person.email for person in User.select(User.email)
                   .join(UserAllowedTag, on=(UserAllowedTag.user == User.id))
                   .where(UserAllowedTag.tag == tag.id,
                          User.id.not_in(others.select(others.user).where(others.tag != tag.id)))
                   .order_by(User.email).limit(4)]
        if limited:
            people = ", ".join(limited[:3]) + (" …" if len(limited) > 3 else "")
            return _("“%(caption)s” is the only allowed tag of %(people)s: without it they would see every client. "
                     "Change their allowed tags first.", caption=tag.caption, people=people)
        tag.delete_instance()
        audit.record("client_tag.deleted", actor=user, target=tag.caption, **meta)
    return None


# --- CSV import ----------------------------------------------------------------------------------


class ImportErrors(ValueError):
    """Rows that cannot be imported: a list of (row number, translated message)."""

    def __init__(self, errors):
        super().__init__(errors)
        self.errors = errors


def parse_clients_csv(raw, organization_id, country_codes):
    """Rows of a CSV (header: name,email,phone,country,tags; tags separated by ;) as dicts to create,
    or ImportErrors naming every bad row. Nothing is written here."""
    from flask_babel import gettext as _

    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ImportErrors([(0, _("The file is not UTF-8 text. Save it as CSV (UTF-8)."))]) from None
    try:
        sample = text[:4096]
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t") if sample.strip() else csv.excel
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(io.StringIO(text), dialect=dialect)
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    if "name" not in header:
        raise ImportErrors([(1, _("The first line must name the columns: name, email, phone, country, tags."))])
    reader.fieldnames = header
    tags = {t.caption.casefold(): t.id for t in ClientTag.select().where(ClientTag.organization == organization_id)}
    rows, errors = [], []
    try:
        for number, row in enumerate(reader, 2):
            if number - 1 > IMPORT_MAX_ROWS:
                raise ImportErrors([(number, _("A file may hold at most %(n)d clients.", n=IMPORT_MAX_ROWS))])
            values = {k: (v or "").strip() if isinstance(v, str) else "" for k, v in row.items() if k}
            problem, item = check_row(values, tags, country_codes)
            if problem:
                errors.append((number, problem))
            else:
                rows.append(item)
    except csv.Error:
        raise ImportErrors([(0, _("The file is not a readable CSV file."))]) from None
    if errors:
        raise ImportErrors(errors[:50])
    if not rows:
        raise ImportErrors([(0, _("The file holds no clients."))])
    return rows


def check_row(values, tags, country_codes):
    from flask_babel import gettext as _

    name = values.get("name", "")
    if not name or len(name) > NAME_MAX:
        return _("A name of 1 to %(n)d characters is required.", n=NAME_MAX), None
    email = values.get("email", "")
    if email:
        try:
            email = validate_email(email, check_deliverability=False).normalized.lower()
        except EmailNotValidError:
            return _("“%(value)s” is not a valid e-mail address.", value=email[:60]), None
    phone = values.get("phone", "")
    if phone:
        try:
            number = phonenumbers.parse(phone, None)
            valid = phonenumbers.is_valid_number(number)
        except phonenumbers.NumberParseException:
            valid = False
        if not valid:
            return _("“%(value)s” is not a phone number with a country code.", value=phone[:30]), None
        phone = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    country = values.get("country", "").upper()
    if country and country not in country_codes:
        return _("“%(value)s” is not a two-letter country code.", value=country[:10]), None
    tag_ids = []
    for caption in filter(None, (t.strip() for t in re.split(r"[;|]", values.get("tags", "")))):
        if caption.casefold() not in tags:
            return _("There is no client tag “%(value)s”.", value=caption[:60]), None
        tag_ids.append(tags[caption.casefold()])
    return None, {"name": name, "email": email, "phone": phone, "country": country, "tags": sorted(set(tag_ids))}


def import_clients(organization_id, rows):
    """Create every row in one transaction (all or nothing); returns how many. The rows were checked against
    the tags before; a tag deleted since (deleting takes the same lock) gives ImportErrors, nothing imported."""
    from flask_babel import gettext as _

    with write_transaction((Organization, organization_id)):
        live = {tag.id for tag in ClientTag.select(ClientTag.id).where(ClientTag.organization == organization_id)}
        if any(tag_id not in live for row in rows for tag_id in row["tags"]):
            raise ImportErrors([(0, _("A tag named in the file was deleted meanwhile. Nothing was imported; "
                                      "please try again."))])
        for row in rows:
            client = Client.create(
                organization=organization_id, name=row["name"], email=row["email"], phone=row["phone"], country=row["country"]
            )
            for tag_id in row["tags"]:
                ClientTagLink.create(client=client, tag=tag_id)
    return len(rows)
