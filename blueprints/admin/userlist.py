"""The users list query: filters, prefix search and keyset pagination whose cost does not grow
with the table (no OFFSET, no count(*)); the indexes are in migrations/m0400_admin.py."""
import base64
import json
from datetime import datetime

import peewee as pw

from models import ClientTag, Group, GroupMember, User, UserAllowedTag

PAGE_SIZE = 25
SORTS = {"created": User.created_at, "id": User.id, "name": User.full_name, "email": User.email}


def encode_cursor(row, sort):
    value = getattr(row, SORTS[sort].name)
    if isinstance(value, datetime):
        value = value.isoformat()
    raw = json.dumps([value, row.id], ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text, sort):
    """(value, id) from a cursor, or None when it is not one of ours (then the first page is shown)."""
    if not text or len(text) > 600:
        return None
    try:
        value, row_id = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        if not isinstance(row_id, int) or isinstance(row_id, bool):
            return None
        if sort == "created":
            value = datetime.fromisoformat(value)
        elif sort == "id":
            value = int(value)
        elif not isinstance(value, str):
            return None
        return value, row_id
    except (ValueError, TypeError):
        return None


def prefix_range(field, prefix):
    """Values of `field` starting with `prefix`, as an index range (byte order of SQLite, C collation)."""
    upper = prefix[:-1] + chr(min(ord(prefix[-1]) + 1, 0x10FFFF))
    return (field >= prefix) & (field < upper)


def search_condition(q):
    """Name or e-mail starts with `q` (the name in the case forms people type)."""
    q = q.strip()
    condition = prefix_range(User.email, q.lower())
    for variant in {q, q.lower(), q.capitalize(), q.title(), q.upper()}:
        condition |= prefix_range(User.full_name, variant)
    return condition


def users_page(organization_id, q="", status="", group=None, two_factor="", sort="created", descending=True,
               after=None, before=None, last=False, size=PAGE_SIZE):
    """One page of users and where the neighbouring pages start: (rows, prev_cursor, next_cursor)."""
    key = SORTS[sort]
    query = User.select(User).where(User.organization == organization_id)
    if q:
        query = query.where(search_condition(q))
    if status:
        query = query.where(User.status == status)
    if two_factor:
        query = query.where(User.two_factor == two_factor)
    if group is not None:
        members = GroupMember.select(GroupMember.user).where(GroupMember.group == group)
        query = query.where(User.id.in_(members))

    backwards = bool(before) or last
    cursor = decode_cursor(before if before else after, sort) if (before or after) else None
    forward_desc = descending != backwards  # the direction we read the index in
    if cursor is not None:
        value, row_id = cursor
        if key is User.id:
            query = query.where(User.id < row_id if forward_desc else User.id > row_id)
        elif forward_desc:
            query = query.where(pw.Tuple(key, User.id) < pw.Tuple(value, row_id))
        else:
            query = query.where(pw.Tuple(key, User.id) > pw.Tuple(value, row_id))
    order = [key.desc(), User.id.desc()] if forward_desc else [key.asc(), User.id.asc()]
    if key is User.id:
        order = order[1:]
    rows = list(query.order_by(*order).limit(size + 1))
    more = len(rows) > size
    rows = rows[:size]
    if backwards:
        rows.reverse()
    has_prev = more if backwards else (cursor is not None)
    has_next = (cursor is not None and not last) if backwards else more
    prev_cursor = encode_cursor(rows[0], sort) if rows and has_prev else None
    next_cursor = encode_cursor(rows[-1], sort) if rows and has_next else None
    return rows, prev_cursor, next_cursor


def row_details(rows):
    """Groups, allowed tags and creators of the users on one page: three small queries, not per row."""
    ids = [row.id for row in rows]
    groups, tags = {i: [] for i in ids}, {i: [] for i in ids}
    if ids:
        for link in GroupMember.select(GroupMember.user, Group).join(Group).where(GroupMember.user.in_(ids)).order_by(Group.name):
            groups[link.user_id].append(link.group)
        for link in (
            UserAllowedTag.select(UserAllowedTag.user, ClientTag)
            .join(ClientTag)
            .where(UserAllowedTag.user.in_(ids))
            .order_by(ClientTag.caption)
        ):
            tags[link.user_id].append(link.tag)
    creator_ids = {row.created_by_id for row in rows if row.created_by_id}
    creators = {u.id: u for u in User.select(User.id, User.full_name, User.email).where(User.id.in_(creator_ids))} if creator_ids else {}
    return groups, tags, creators
