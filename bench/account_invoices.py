"""Invoice list cost against the table's size: keyset pages over the (organization, issued_on, id) index.

    .venv/bin/python bench/account_invoices.py [--invoices 50000] [--database-url postgresql://...]

Baseline, in the same run: the first page of an organization with 100 invoices. Then, for an
organization with --invoices invoices in the same table: its first page, a page deep in the list
reached by keyset cursor, a status filter, a number search, and for contrast the same deep page
fetched with OFFSET. The balance history is measured the same way (its own baseline: 100 entries; then
the first and a deep keyset page of --invoices entries). Prints median milliseconds and the ratio to
the baseline.
"""
import argparse
import statistics
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def timed(func, repeat=30):
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--invoices", type=int, default=50_000)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()

    import migrations
    from app import create_app
    from models import BalanceEntry, Invoice, Organization, db, open_database
    from services import invoices

    url = args.database_url or f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite3"
    database = open_database(url)
    app = create_app({"DATABASE": database, "SECRET_KEY": "bench", "INSTANCE_PATH": tempfile.mkdtemp()})
    with app.app_context(), database.connection_context():
        if url.startswith("postgres"):
            database.execute_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        migrations.upgrade(database)
        small = Organization.create(name="small")
        big = Organization.create(name="big")
        start = date(2000, 1, 1)
        statuses = ("issued", "paid", "overdue", "cancelled")
        for org, count in ((small, 100), (big, args.invoices)):
            rows = [
                {"organization": org.id, "number": f"{i:08d}", "issued_on": start + timedelta(days=i // 3),
                 "period_start": start, "period_end": start, "amount": Decimal(100 + i % 900),
                 "currency": "RUB", "status": statuses[i % 4]}
                for i in range(count)
            ]
            with db.atomic():
                for chunk in range(0, len(rows), 500):
                    Invoice.insert_many(rows[chunk:chunk + 500]).execute()
            entries = [
                {"organization": org.id, "change": Decimal(10), "balance_after": Decimal(10 * (i + 1)),
                 "cause": f"charge {i}", "created_at": datetime(2000, 1, 1) + timedelta(hours=i)}
                for i in range(count)
            ]
            with db.atomic():
                for chunk in range(0, len(entries), 500):
                    BalanceEntry.insert_many(entries[chunk:chunk + 500]).execute()
        if url.startswith("postgres"):
            database.execute_sql("ANALYZE invoice")
            database.execute_sql("ANALYZE balance_entry")
        else:
            database.execute_sql("ANALYZE")

        _rows, cursor = invoices.search_invoices(big.id)
        deep_index = args.invoices - 40
        deep_row = (Invoice.select().where(Invoice.organization == big.id)
                    .order_by(Invoice.issued_on.desc(), Invoice.id.desc()).offset(deep_index).limit(1).get())
        deep_cursor = (deep_row.issued_on, deep_row.id)

        def offset_page():
            list(Invoice.select().where(Invoice.organization == big.id)
                 .order_by(Invoice.issued_on.desc(), Invoice.id.desc()).offset(deep_index).limit(21))

        baseline = timed(lambda: invoices.search_invoices(small.id))
        cases = [
            ("first page, big organization", lambda: invoices.search_invoices(big.id)),
            (f"keyset page at row {deep_index}", lambda: invoices.search_invoices(big.id, after=deep_cursor)),
            ("status = paid, first page", lambda: invoices.search_invoices(big.id, status="paid")),
            ("number contains '0012'", lambda: invoices.search_invoices(big.id, number="0012")),
            (f"OFFSET {deep_index} (not used; for contrast)", offset_page),
        ]
        print(f"database: {url.split(':', 1)[0]}, big organization: {args.invoices} invoices")
        print(f"{'baseline: first page, 100 invoices':<45} {baseline:8.2f} ms   1.00x")
        for label, func in cases:
            ms = timed(func)
            print(f"{label:<45} {ms:8.2f} ms  {ms / baseline:5.2f}x")

        deep_entry = (BalanceEntry.select(BalanceEntry.id).where(BalanceEntry.organization == big.id)
                      .order_by(BalanceEntry.created_at.desc(), BalanceEntry.id.desc()).offset(deep_index).limit(1)
                      .scalar())
        balance_base = timed(lambda: invoices.balance_history(small.id))
        print(f"{'baseline: balance history, 100 entries':<45} {balance_base:8.2f} ms   1.00x")
        for label, func in [
            ("balance history, first page, big", lambda: invoices.balance_history(big.id)),
            (f"balance history, keyset at row {deep_index}", lambda: invoices.balance_history(big.id, before=deep_entry)),
        ]:
            ms = timed(func)
            print(f"{label:<45} {ms:8.2f} ms  {ms / balance_base:5.2f}x")
    database.close_all()


if __name__ == "__main__":
    main()
