"""The organization's part of the account panel: settlements and invoices, files, GDPR and privacy,
integrations (API keys, webhooks). Importing the package registers every route on its blueprint."""
from blueprints.organization import account, api_keys, files, invoices, privacy, service_keys, webhooks  # noqa: F401
