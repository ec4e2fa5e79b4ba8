"""The back office's users list against the table's size (issue 6: 100 000 users answer like 100).

    .venv/bin/python bench/admin_users.py [--sizes 100,100000] [--repeat 30] [--database-url postgresql://...]

Fills one database per size (SQLite files, or one schema per size in the given PostgreSQL database)
with an organization of 100 and of 100 000 people (bulk inserts), then times each case on both
sizes in turn, so that a busy machine's noise falls on both alike. A case is the whole page as an
administrator gets it (session check, the list query, the per-page lookups, the template) through
the test client, and the list query alone; the figures are medians in milliseconds and the ratio of
the big size to the small one (goal: at most 1.5).

Then the bulk action of the list (add to a group, confirmed; then the people are removed again, untimed)
on the biggest size, for 100 and for 1,000 ticked people: the request as the browser sends it, median in
milliseconds, and the ratio 1,000 / 100 (goal: at most 1.5; the bench prints, it does not assert).
"""
import argparse
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import peewee as pw

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PASSWORD = "bench passphrase lilac tunnel"
# Every 4th person is an Anna and every 4th an Анна, so the searches fill a page at both sizes (the
# ratios then compare the same number of rows); the rest spread over the other names.
FIRST = ["Boris", "Maria", "Marat", "Oleg", "Olga", "Pavel", "Sergey", "Elena", "Ivan", "Irina", "Dmitry",
         "Борис", "Мария", "Иван", "Ирина", "Ольга", "Павел", "Сергей", "Елена", "Дмитрий", "Наталья", "Юрий"]
LAST = ["Ivanov", "Petrov", "Sidorov", "Smirnov", "Kuznetsov", "Popov", "Volkov", "Orlov", "Lebedev", "Kozlov",
        "Иванов", "Петров", "Сидоров", "Смирнов", "Кузнецов", "Попов", "Волков", "Орлов", "Лебедев", "Козлов"]
LATIN = {"Анна": "anna", "Борис": "boris", "Мария": "maria", "Иван": "ivan", "Ирина": "irina", "Ольга": "olga",
         "Павел": "pavel", "Сергей": "sergey", "Елена": "elena", "Дмитрий": "dmitry", "Наталья": "natalya",
         "Юрий": "yury", "Иванов": "ivanov", "Петров": "petrov", "Сидоров": "sidorov", "Смирнов": "smirnov",
         "Кузнецов": "kuznetsov", "Попов": "popov", "Волков": "volkov", "Орлов": "orlov", "Лебедев": "lebedev",
         "Козлов": "kozlov"}


def person(i, org_id, creator_id, start):
    first = ("Anna", "Анна")[i % 4] if i % 4 < 2 else FIRST[(i * 7 + i // 97) % len(FIRST)]
    last = LAST[(i * 13 + i // 101) % len(LAST)]
    email = f"{LATIN.get(first, first).lower()}.{LATIN.get(last, last).lower()}{i}@corp{i % 5}.example"
    return {
        "organization": org_id, "email": email, "full_name": f"{first} {last}", "password_hash": "!",
        "status": "disabled" if i % 13 == 0 else "enabled", "two_factor": ("off", "email", "totp")[i % 3],
        "created_by": creator_id if i % 4 == 0 else None, "created_at": start + timedelta(seconds=i),
    }


def bulk_insert(database, model, rows):
    """Plain multi-row INSERTs of `rows` (dicts by field name; the model's defaults fill the rest):
    sqlite3's executemany or psycopg2's execute_values, without building a peewee query per row."""
    fields = [f for f in model._meta.sorted_fields if not isinstance(f, pw.AutoField)]
    defaults = {f.name: f.default() if callable(f.default) else f.default for f in fields}

    def value(field, row):
        v = row.get(field.name, defaults[field.name])
        return v.isoformat(" ") if isinstance(v, datetime) else v

    values = [tuple(value(f, row) for f in fields) for row in rows]
    table = f'"{model._meta.table_name}"'
    columns = ", ".join(f'"{f.column_name}"' for f in fields)
    cursor = database.cursor()
    if isinstance(database, pw.PostgresqlDatabase):
        from psycopg2.extras import execute_values

        execute_values(cursor, f"INSERT INTO {table} ({columns}) VALUES %s", values, page_size=1000)
    else:
        marks = ", ".join("?" for _ in fields)
        cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", values)


def fill(database, org, admin, groups, start, first, last):
    """Users first..last-1 of the organization in bulk; every 3rd of them in the first group, the
    first ten in the second."""
    from models import GroupMember, User

    began = time.perf_counter()
    with database.atomic():
        bulk_insert(database, User, [person(i, org.id, admin.id, start) for i in range(first, last)])
        ids = [u.id for u in User.select(User.id).where(User.organization == org, User.id > admin.id)
               .order_by(User.id).offset(first).limit(last - first)]
        links = [{"group": groups[0].id, "user": user_id} for user_id in ids[::3]]
        links += [{"group": groups[1].id, "user": user_id} for user_id in ids[:10] if first == 0]
        bulk_insert(database, GroupMember, links)
    database.execute_sql("ANALYZE")  # fresh statistics, as autovacuum / a maintained SQLite would have
    return time.perf_counter() - began


def middle_cursor(org):
    from blueprints.admin.userlist import encode_cursor
    from models import User

    total = User.select().where(User.organization == org).count()
    row = (User.select().where(User.organization == org).order_by(User.created_at.desc(), User.id.desc())
           .offset(total // 2).limit(1).get())  # OFFSET once, to find where the middle page starts
    return encode_cursor(row, "created")


def cases(side):
    """{label: (query string of the page, users_page() arguments)} for one database."""
    cursor, (big_group, small_group) = side.cursor, side.groups
    one = person(42, 0, 0, datetime(2020, 1, 1))["email"].split("@")[0] + "@"
    return {
        "first page": ({}, {}),
        "middle page (keyset cursor)": ({"after": cursor}, {"after": cursor}),
        "last page": ({"page": "last"}, {"last": True}),
        "search 'Ann' (name or e-mail)": ({"q": "Ann"}, {"q": "Ann"}),
        "search 'анна' (Cyrillic name)": ({"q": "анна"}, {"q": "анна"}),
        f"search '{one}' (one person)": ({"q": one}, {"q": one}),
        "search with no match 'zzz'": ({"q": "zzz"}, {"q": "zzz"}),
        "2FA = TOTP, sorted by name": ({"tfa": "totp", "sort": "name", "dir": "asc"},
                                       {"two_factor": "totp", "sort": "name", "descending": False}),
        "group of every 3rd person": ({"group": big_group.id}, {"group": big_group}),
        "group of 10 people": ({"group": small_group.id}, {"group": small_group}),
    }


class Side:
    """One database with one organization of `size` people and a signed-in administrator's client."""

    def __init__(self, app, url, size):
        import migrations
        from models import Group, Organization, User, db, open_database
        from services import passwords
        from services.permissions import add_to_group, administrators_group

        self.size, self.database = size, open_database(url)
        db.initialize(self.database)
        with app.app_context(), self.database.connection_context():
            if url.startswith("postgres"):
                schema = url.rsplit("search_path%3D", 1)[1]
                self.database.execute_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}")
            migrations.upgrade(self.database)
            self.org = Organization.create(name="Bench Ltd")
            start = datetime(2020, 1, 1)
            admin = User.create(organization=self.org, email="admin@bench.local", full_name="Bench Admin",
                                password_hash=passwords.hash_password(PASSWORD), created_at=start - timedelta(days=1))
            add_to_group(admin, administrators_group(self.org))
            self.groups = [Group.create(organization=self.org, name=name) for name in ("Support", "Team")]
            self.fill_seconds = fill(self.database, self.org, admin, self.groups, start, 0, size)
            self.cursor = middle_cursor(self.org)
        self.client = app.test_client()
        page = self.client.get("/login").get_data(as_text=True)
        token = page.split('name="csrf_token" type="hidden" value="', 1)[1].split('"', 1)[0]
        response = self.client.post("/login", data={"csrf_token": token, "email": "admin@bench.local",
                                                    "password": PASSWORD})
        assert response.status_code == 303

    def use(self):
        from models import db

        db.initialize(self.database)


def measure(app, sides, repeat):
    """{label: {size: (page ms, query ms)}}, the sizes measured in turn for each sample so that the
    machine's noise falls on both alike."""
    from blueprints.admin.userlist import users_page

    results, rows = {}, {}
    for label in cases(sides[0]):
        samples = {side.size: ([], []) for side in sides}
        rows[label] = {side.size: len(users_page(side.org.id, **cases(side)[label][1])[0]) for side in sides
                       if not side.use()}
        for i in range(repeat + 1):
            for side in sides:
                side.use()
                params, query_args = cases(side)[label]
                began = time.perf_counter()
                response = side.client.get("/admin/users", query_string=params)
                page = time.perf_counter() - began
                assert response.status_code == 200, (label, response.status_code)
                with app.app_context():
                    began = time.perf_counter()
                    users_page(side.org.id, **query_args)
                    query = time.perf_counter() - began
                if i:  # the first round warms the caches
                    samples[side.size][0].append(page * 1000)
                    samples[side.size][1].append(query * 1000)
        results[label] = {size: (statistics.median(p), statistics.median(q)) for size, (p, q) in samples.items()}
    return results, rows


def measure_bulk(app, side, repeat, counts=(100, 1000)):
    """{ticked: median ms} of confirming "add to a group" for that many people of `side`, the counts
    measured in turn; each sample's people are taken out of the group again (untimed)."""
    from models import Group, User

    side.use()
    with app.app_context():
        group = Group.create(organization=side.org, name="Bulk bench")
        middle = side.size // 2
        ids = [u.id for u in User.select(User.id).where(User.organization == side.org).order_by(User.id)
               .offset(max(0, middle - max(counts) // 2)).limit(max(counts))]
    page = side.client.get("/admin/users").get_data(as_text=True)
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    from urllib.parse import urlencode

    def body(n, action):  # encoded once, as the browser sends it: the timing is the server's
        fields = [("csrf_token", token), ("group", str(group.id)), ("confirm", "1"), ("action", action)]
        return urlencode(fields + [("ids", str(x)) for x in ids[:n]])

    bodies = {(n, action): body(n, action) for n in counts for action in ("add_group", "remove_group")}
    form = "application/x-www-form-urlencoded"
    samples = {n: [] for n in counts}
    for i in range(repeat + 1):
        for n in counts:
            began = time.perf_counter()
            response = side.client.post("/admin/users/bulk", data=bodies[(n, "add_group")], content_type=form)
            elapsed = time.perf_counter() - began
            assert response.status_code == 303, response.status_code
            response = side.client.post("/admin/users/bulk", data=bodies[(n, "remove_group")], content_type=form)
            assert response.status_code == 303, response.status_code
            if i:
                samples[n].append(elapsed * 1000)
    return {n: statistics.median(values) for n, values in samples.items()}


def side_urls(url, sizes):
    if url.startswith("postgres"):
        joiner = "&" if "?" in url else "?"
        return [f"{url}{joiner}options=-csearch_path%3Dbench_users_{size}" for size in sizes]
    folder = tempfile.mkdtemp()
    return [f"sqlite:///{folder}/users_{size}.sqlite3" for size in sizes]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100,100000")
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--database-url", default="", help="PostgreSQL; one schema per size is made in it")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    from app import create_app
    from models import open_database

    urls = side_urls(args.database_url, sizes)
    app = create_app({"DATABASE": open_database(urls[0]), "SECRET_KEY": "bench", "INSTANCE_PATH": tempfile.mkdtemp(),
                      "ARGON2_MEMORY_KIB": 19456, "ARGON2_TIME_COST": 2, "SERVER_NAME": "localhost"})
    kind = "postgresql" if args.database_url.startswith("postgres") else "sqlite"
    print(f"database: {kind}, one per size; median of {args.repeat}, sizes measured in turn; "
          f"page = the whole answer through the test client, query = users_page() alone")
    sides = []
    for url, size in zip(urls, sizes):
        sides.append(Side(app, url, size))
        print(f"filled {size:,} users (bulk INSERT, with the group links and ANALYZE) in {sides[-1].fill_seconds:.1f} s")
    with app.app_context():
        figures, rows = measure(app, sides, args.repeat)
    small, big = sizes[0], sizes[-1]
    print(f"{'case':<38} {'rows':>7} {'page ' + format(small, ','):>13} {'page ' + format(big, ','):>13} {'ratio':>6}"
          f"   {'query ' + format(small, ','):>13} {'query ' + format(big, ','):>13} {'ratio':>6}")
    worst = 0.0
    for label, by_size in figures.items():
        (p1, q1), (p2, q2) = by_size[small], by_size[big]
        worst = max(worst, p2 / p1)
        shown = f"{rows[label][small]}/{rows[label][big]}"
        print(f"{label:<38} {shown:>7} {p1:10.2f} ms {p2:10.2f} ms {p2 / p1:5.2f}x"
              f"   {q1:10.2f} ms {q2:10.2f} ms {q2 / q1:5.2f}x")
    print(f"worst page ratio {big:,} / {small:,}: {worst:.2f}x (goal: at most 1.5)")
    bulk = measure_bulk(app, sides[-1], args.repeat)
    (n1, t1), (n2, t2) = sorted(bulk.items())
    print(f"bulk action 'add to a group' at {big:,} users: {n1:,} ticked {t1:.2f} ms, {n2:,} ticked {t2:.2f} ms, "
          f"ratio {t2 / t1:.2f}x (goal: at most 1.5)")
    for side in sides:
        side.database.close_all()


if __name__ == "__main__":
    main()
