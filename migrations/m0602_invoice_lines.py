"""Invoices as real documents: line items (every existing invoice gets one line from its description
and amount) and the VAT rate fixed at issue (existing invoices: none, «Без НДС»)."""
import peewee as pw

from migrations import add_column_if_missing
from models.account import Invoice, InvoiceLine


def upgrade(db, migrator):
    add_column_if_missing(db, migrator, "invoice", "vat_rate",
                          pw.DecimalField(max_digits=5, decimal_places=2, null=True))
    db.create_tables([InvoiceLine], safe=True)
    without_lines = Invoice.select(
        Invoice.id, pw.Value(1), Invoice.description, pw.Value(1), pw.Value("service"), Invoice.amount, Invoice.amount,
    ).where(Invoice.id.not_in(InvoiceLine.select(InvoiceLine.invoice)))
    InvoiceLine.insert_from(without_lines, [
        InvoiceLine.invoice, InvoiceLine.position, InvoiceLine.description, InvoiceLine.quantity, InvoiceLine.unit,
        InvoiceLine.price, InvoiceLine.amount,
    ]).execute()
