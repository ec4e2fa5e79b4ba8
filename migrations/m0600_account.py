"""Organization account: billing details, invoices, balance history, files, agreements, exports, deletions."""
from models.account import ACCOUNT_MODELS


def upgrade(db, migrator):
    db.create_tables(ACCOUNT_MODELS, safe=True)
