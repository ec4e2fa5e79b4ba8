"""The organization account: billing details, invoices, balance history, stored files, data
processing agreements, personal-data exports and account deletion requests."""
import peewee as pw

from .base import BaseModel, utcnow
from .core import Organization, User

INVOICE_STATUSES = ("issued", "paid", "overdue", "cancelled")
EXPORT_STATUSES = ("pending", "running", "done", "failed")


class BillingDetails(BaseModel):
    """What the organization's own columns (name, TIN, KPP, OGRN, legal address) do not hold."""

    organization = pw.ForeignKeyField(Organization, primary_key=True, backref="billing", on_delete="CASCADE")
    postal_address = pw.CharField(max_length=500, default="")
    bank_name = pw.CharField(max_length=200, default="")
    bik = pw.CharField(max_length=9, default="")  # БИК
    account_number = pw.CharField(max_length=20, default="")  # расчётный счёт
    correspondent_account = pw.CharField(max_length=20, default="")  # корреспондентский счёт
    billing_email = pw.CharField(max_length=254, default="")
    updated_at = pw.DateTimeField(default=utcnow)

    @classmethod
    def of(cls, organization):
        """The organization's billing details, or an empty, unsaved row when none were entered."""
        org_id = getattr(organization, "id", organization)
        return cls.get_or_none(cls.organization == org_id) or cls(organization=org_id)


class Invoice(BaseModel):
    organization = pw.ForeignKeyField(Organization, backref="invoices", on_delete="CASCADE")
    number = pw.CharField(max_length=40)
    issued_on = pw.DateField()
    period_start = pw.DateField()
    period_end = pw.DateField()
    amount = pw.DecimalField(max_digits=14, decimal_places=2, auto_round=True)
    currency = pw.CharField(max_length=3, default="RUB")
    status = pw.CharField(max_length=10, default="issued")
    description = pw.CharField(max_length=300, default="")
    paid_at = pw.DateTimeField(null=True)
    created_at = pw.DateTimeField(default=utcnow)
    # VAT in percent, included in the prices, fixed when the invoice is issued; None: «Без НДС».
    vat_rate = pw.DecimalField(max_digits=5, decimal_places=2, null=True)

    class Meta:
        indexes = (
            (("organization", "number"), True),
            # the list's keyset order, and the same order within one status
            (("organization", "issued_on", "id"), False),
            (("organization", "status", "issued_on", "id"), False),
        )


class InvoiceLine(BaseModel):
    """One line of an invoice: what is sold, how much of it and for how much (amount = quantity × price)."""

    invoice = pw.ForeignKeyField(Invoice, backref="lines", on_delete="CASCADE")
    position = pw.IntegerField(default=1)
    description = pw.CharField(max_length=300, default="")  # empty: "Services for the period …", worded when shown
    quantity = pw.DecimalField(max_digits=12, decimal_places=3, auto_round=True, default=1)
    unit = pw.CharField(max_length=20, default="service")  # a key of services.invoice_document.UNIT_LABELS
    price = pw.DecimalField(max_digits=14, decimal_places=2, auto_round=True)
    amount = pw.DecimalField(max_digits=14, decimal_places=2, auto_round=True)

    class Meta:
        indexes = ((("invoice", "position"), False),)


class BalanceEntry(BaseModel):
    """One change of the organization's balance and why it happened."""

    organization = pw.ForeignKeyField(Organization, backref="balance_entries", on_delete="CASCADE")
    change = pw.DecimalField(max_digits=14, decimal_places=2, auto_round=True)
    balance_after = pw.DecimalField(max_digits=14, decimal_places=2, auto_round=True)
    cause = pw.CharField(max_length=300)
    invoice = pw.ForeignKeyField(Invoice, null=True, backref="balance_entries", on_delete="SET NULL")
    actor = pw.ForeignKeyField(User, null=True, backref="+", on_delete="SET NULL")
    created_at = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("organization", "created_at", "id"), False),)


class StoredFile(BaseModel):
    """A file of the file manager; the bytes live under FILES_PATH as `storage_name`, never in static/."""

    organization = pw.ForeignKeyField(Organization, backref="files", on_delete="CASCADE")
    uploaded_by = pw.ForeignKeyField(User, null=True, backref="uploaded_files", on_delete="SET NULL")
    name = pw.CharField(max_length=200)
    storage_name = pw.CharField(max_length=64, unique=True)
    size = pw.BigIntegerField()
    kind = pw.CharField(max_length=10)  # pdf | png | jpeg | csv | txt | docx | xlsx
    created_at = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("organization", "created_at"), False),)


class ProcessingAgreement(BaseModel):
    """A data entrustment (or sub-entrustment) card: who processes personal data, why and on what basis."""

    organization = pw.ForeignKeyField(Organization, backref="processing_agreements", on_delete="CASCADE")
    processor = pw.CharField(max_length=200)
    purpose = pw.CharField(max_length=500)
    data_categories = pw.CharField(max_length=500)
    legal_basis = pw.CharField(max_length=300)
    is_subprocessing = pw.BooleanField(default=False)
    starts_on = pw.DateField()
    ends_on = pw.DateField(null=True)
    document = pw.ForeignKeyField(StoredFile, null=True, backref="agreements", on_delete="SET NULL")
    created_by = pw.ForeignKeyField(User, null=True, backref="+", on_delete="SET NULL")
    created_at = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("organization", "starts_on"), False),)


class DataExport(BaseModel):
    """A "Download my data" request, produced in the background into a ZIP under FILES_PATH/exports."""

    user = pw.ForeignKeyField(User, backref="data_exports", on_delete="CASCADE")
    status = pw.CharField(max_length=10, default="pending", index=True)
    storage_name = pw.CharField(max_length=64, default="")
    size = pw.BigIntegerField(default=0)
    created_at = pw.DateTimeField(default=utcnow)
    finished_at = pw.DateTimeField(null=True)
    operation_id = pw.IntegerField(null=True)  # its row in the list of operations (notifications area)

    class Meta:
        indexes = ((("user", "created_at"), False),)


class DeletionRequest(BaseModel):
    """"Delete my account": erased after `erase_after` unless the person signs in before then."""

    user = pw.ForeignKeyField(User, backref="deletion_requests", on_delete="CASCADE")
    requested_at = pw.DateTimeField(default=utcnow)
    erase_after = pw.DateTimeField(index=True)
    cancelled_at = pw.DateTimeField(null=True)

    class Meta:
        indexes = ((("user", "cancelled_at"), False),)


ACCOUNT_MODELS = [BillingDetails, Invoice, InvoiceLine, BalanceEntry, StoredFile, ProcessingAgreement, DataExport, DeletionRequest]
