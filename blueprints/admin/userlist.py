"""The users list query: filters, prefix search and keyset pagination whose cost does not grow
with the table (no OFFSET, no count(*)); the indexes are in migrations/m0400_admin.py and
m0421_users_list_indexes.py, the figures from bench/admin_users.py in the README."""
import base64
import json
from datetime import datetime

import peewee as pw

from blueprints.bounds import ID_MAX
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
        if not isinstance(row_id, int) or isinstance(row_id, bool) or not 0 <= row_id <= ID_MAX:
            return None
        if sort == "created":
            value = datetime.fromisoformat(value)
        elif sort == "id":
            value = int(value)
            if not 0 <= value <= ID_MAX:
                return None
        elif not isinstance(value, str):
            return None
        return value, row_id
    except (ValueError, TypeError):
        return None


# A filter that leaves at most this many people is applied as a list of ids (then sorted, which costs
# what the list costs); a broader one is applied while reading the sort order's index, where it
# stops after one page. Either way the cost does not follow the table's size (README, "Users list").
CANDIDATES_MAX = 1000


def byte_order(field):
    """`field` compared in byte order: prefix ranges then hold under any PostgreSQL collation (the
    migration 0421 indexes match); SQLite compares bytes already."""
    return field.collate('"C"') if isinstance(User._meta.database.obj, pw.PostgresqlDatabase) else field


def prefix_range(field, prefix):
    """Values of `field` starting with `prefix`, as an index range in byte order."""
    upper = prefix[:-1] + chr(min(ord(prefix[-1]) + 1, 0x10FFFF))
    field = byte_order(field)
    return (field >= prefix) & (field < upper)


def search_ranges(q):
    """(field, prefix) pairs whose union is "name or e-mail starts with q" (the name in the case forms
    people type; e-mails are stored lower-cased)."""
    q = q.strip()
    names = dict.fromkeys([q, q.lower(), q.capitalize(), q.title(), q.upper()])
    return [(User.email, q.lower())] + [(User.full_name, variant) for variant in names]


def search_condition(q):
    condition = None
    for field, prefix in search_ranges(q):
        part = prefix_range(field, prefix)
        condition = part if condition is None else condition | part
    return condition


def is_narrow(queries):
    """True when the id queries together select at most CANDIDATES_MAX rows, counted by the database
    (each count stops at CANDIDATES_MAX + 1 index entries)."""
    total = 0
    for query in queries:
        total += query.limit(CANDIDATES_MAX + 1).count()
        if total > CANDIDATES_MAX:
            return False
    return True


def narrow(query, organization_id, q, status, group, two_factor, invited=False):
    """Apply the filters: a narrow one as "id in (its ids)", a broad one as a condition checked while
    reading the sort order's index (where one page of matches is quickly found)."""
    ids_of = User.select(User.id).where(User.organization == organization_id)
    filters = []  # (queries that select the matching ids, the same filter as a condition)
    if q:
        filters.append(([ids_of.where(prefix_range(f, p)) for f, p in search_ranges(q)], search_condition(q)))
    if status:
        filters.append(([ids_of.where(User.status == status)], User.status == status))
    if two_factor:
        filters.append(([ids_of.where(User.two_factor == two_factor)], User.two_factor == two_factor))
    if invited:  # an invitation mailed and not yet accepted
        filters.append(([ids_of.where(User.invited_at.is_null(False))], User.invited_at.is_null(False)))
    if group is not None:
        members = GroupMember.select(GroupMember.user).where(GroupMember.group == group)
        is_member = pw.fn.EXISTS(GroupMember.select(GroupMember.id).where(GroupMember.group == group, GroupMember.user == User.id))
        filters.append(([members], is_member))
    for queries, condition in filters:
        if is_narrow(queries):
            ids = queries[0]
            for other in queries[1:]:
                ids = ids | other  # UNION
            query = query.where(User.id.in_(ids))
        else:
            query = query.where(condition)
    return query


def users_page(organization_id, q="", status="", group=None, two_factor="", invited=False, sort="created", descending=True,
               after=None, before=None, last=False, size=PAGE_SIZE):
    """One page of users and where the neighbouring pages start: (rows, prev_cursor, next_cursor)."""
    key = SORTS[sort]
    query = User.select(User).where(User.organization == organization_id)
    query = narrow(query, organization_id, q, status, group, two_factor, invited)

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
