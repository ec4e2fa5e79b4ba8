"""Statements for many rows whose cost is the database's, not the query builder's: peewee builds a
node per value of an IN list or a multi-row INSERT, which for a thousand people costs more than the
database's work (bench/admin_users.py, the bulk action)."""
import peewee as pw

CHUNK = 500  # rows per INSERT: well under SQLite's 32,766 parameters, PostgreSQL's 65,535


def id_list(ids):
    """`ids` (ints) as one SQL node for `field.in_(...)`, written inline: ints only, so nothing to quote."""
    values = [int(i) for i in ids]
    return pw.SQL("(%s)" % ",".join(str(i) for i in values)) if values else pw.SQL("(NULL)")


def insert_rows(model, rows):
    """INSERT `rows` (dicts by field name, every dict with the same keys; the fields' defaults fill the
    others) into `model`'s table, CHUNK rows per statement, each value converted as peewee would."""
    if not rows:
        return 0
    database = model._meta.database
    names = list(rows[0])
    fields = [model._meta.fields[name] for name in names]
    for field in model._meta.sorted_fields:
        if field.name not in names and not isinstance(field, pw.AutoField) and field.default is not None:
            names.append(field.name)
            fields.append(field)
    defaults = {f.name: (f.default() if callable(f.default) else f.default) for f in fields if f.default is not None}
    table = model._meta.table_name
    columns = ", ".join(f'"{f.column_name}"' for f in fields)
    mark = database.param
    one = "(" + ", ".join(mark for _ in fields) + ")"
    # ints and strings go as they are (what db_value would give them); the rest converted
    for start in range(0, len(rows), CHUNK):
        part = rows[start:start + CHUNK]
        params = [value if value is None or type(value) in (int, str) else field.db_value(value)
                  for row in part for field, value in ((f, row.get(f.name, defaults.get(f.name))) for f in fields)]
        database.execute_sql(f'INSERT INTO "{table}" ({columns}) VALUES ' + ", ".join(one for _ in part), params)
    return len(rows)
