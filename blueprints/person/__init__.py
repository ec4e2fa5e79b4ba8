"""The person's part of the account panel: personal data, contacts, picture, mail servers, security,
passkeys, notifications and operations. Importing the package registers every route on its blueprint."""
from blueprints.person import (  # noqa: F401
    contacts, edit, event_subscriptions, mail_servers, notifications, passkeys, password, pictures, profile, security, sessions, two_factor,
)
