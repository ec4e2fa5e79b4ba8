"""Settings read from environment variables; every default is documented in the README."""
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent
INSTANCE = Path(os.environ.get("KABINET_INSTANCE", ROOT / "instance"))


def env_bool(name, default):
    value = os.environ.get(name)
    return default if value is None else value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name, default):
    return int(os.environ.get(name, default))


class Config:
    SECRET_KEY = os.environ.get("SECRET_KEY")  # generated into instance/secret_key when unset
    DATABASE_URL = os.environ.get("DATABASE_URL", f"sqlite:///{INSTANCE / 'kabinet.sqlite3'}")
    INSTANCE_PATH = str(INSTANCE)
    # Behind a TLS-terminating proxy: trust X-Forwarded-* from this many proxies, send HSTS, Secure cookies.
    PROXY_COUNT = env_int("PROXY_COUNT", 0)
    HTTPS = env_bool("HTTPS", False)

    SESSION_IDLE_MINUTES = env_int("SESSION_IDLE_MINUTES", 30)
    SESSION_ABSOLUTE_HOURS = env_int("SESSION_ABSOLUTE_HOURS", 12)
    REAUTH_MINUTES = env_int("REAUTH_MINUTES", 15)
    # Passkeys (WebAuthn): the relying-party id (a domain, no port) and the exact origin the browser reports.
    # Empty: taken from the request's host, which is right unless a proxy rewrites it (README: Passkeys).
    PASSKEY_RP_ID = os.environ.get("PASSKEY_RP_ID", "")
    PASSKEY_ORIGIN = os.environ.get("PASSKEY_ORIGIN", "")  # e.g. https://kabinet.example.com
    PASSKEY_RP_NAME = os.environ.get("PASSKEY_RP_NAME", "Kabinet")

    # App mail (reset links, codes, notices). Without MAIL_HOST mail goes to instance/outbox/*.eml.
    MAIL_HOST = os.environ.get("MAIL_HOST", "")
    MAIL_PORT = env_int("MAIL_PORT", 587)
    MAIL_SECURITY = os.environ.get("MAIL_SECURITY", "starttls")  # ssl | starttls | none
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME", "")
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD", "")
    MAIL_FROM = os.environ.get("MAIL_FROM", "Kabinet <no-reply@localhost>")
    MAIL_TIMEOUT = env_int("MAIL_TIMEOUT", 10)
    BASE_URL = os.environ.get("BASE_URL", "")  # used in mailed links outside a request

    # SMS (phone codes): console writes to the log and instance/sms-outbox.jsonl; http POSTs JSON to a gateway.
    SMS_BACKEND = os.environ.get("SMS_BACKEND", "console")  # console | http
    SMS_HTTP_URL = os.environ.get("SMS_HTTP_URL", "")
    SMS_HTTP_TOKEN = os.environ.get("SMS_HTTP_TOKEN", "")  # sent as "Authorization: Bearer <token>"
    SMS_HTTP_TIMEOUT = env_int("SMS_HTTP_TIMEOUT", 10)
    SMS_HTTP_ALLOW_PRIVATE = env_bool("SMS_HTTP_ALLOW_PRIVATE", False)  # allow a gateway on a private/loopback address
    SMS_SENDER = os.environ.get("SMS_SENDER", "Kabinet")
    SCHEDULER_HEARTBEAT_SECONDS = env_int("SCHEDULER_HEARTBEAT_SECONDS", 60)
    SCHEDULER_LEADER_POLL_SECONDS = env_int("SCHEDULER_LEADER_POLL_SECONDS", 5)  # a standby checks this often

    # Third-party secrets at rest (SMTP passwords): comma-separated, the first encrypts, all decrypt.
    # Unset: derived from SECRET_KEY. Rotate with `flask rotate-key` (README).
    ENCRYPTION_KEY = os.environ.get("ENCRYPTION_KEY", "")

    # People's own SMTP servers (issue 4): status checks by the scheduler and right after a save.
    MAIL_POLL_SECONDS = env_int("MAIL_POLL_SECONDS", 60)
    MAIL_PROBE_TIMEOUT = env_int("MAIL_PROBE_TIMEOUT", 10)
    MAIL_POLL_WORKERS = env_int("MAIL_POLL_WORKERS", 64)  # concurrent checks; a cycle lasts ~ one timeout per 64 dead servers
    MAIL_CHECK_AFTER_SAVE = env_bool("MAIL_CHECK_AFTER_SAVE", True)
    MAIL_TEST_LIMIT = os.environ.get("MAIL_TEST_LIMIT", "10 per hour")  # test e-mails per person
    # People's servers on private, loopback or link-local addresses (a relay on this host); off, so the
    # status checks cannot be used to scan the internal network.
    MAIL_ALLOW_PRIVATE = env_bool("MAIL_ALLOW_PRIVATE", False)

    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
    RATELIMIT_RETRY_SECONDS = env_int("RATELIMIT_RETRY_SECONDS", 5)  # while Redis is away: count per process, retry it this often
    LOGIN_LIMIT_PER_IP = os.environ.get("LOGIN_LIMIT_PER_IP", "20 per 10 minutes")
    LOGIN_LIMIT_PER_ACCOUNT = os.environ.get("LOGIN_LIMIT_PER_ACCOUNT", "5 per 10 minutes")
    API_RATE_LIMIT = os.environ.get("API_RATE_LIMIT", "120 per minute")  # per API key

    # Webhooks: per-attempt timeout, and whether private/loopback receivers are allowed (tests allow 127.0.0.1).
    WEBHOOK_TIMEOUT = env_int("WEBHOOK_TIMEOUT", 5)  # seconds for one whole attempt (connect, send, answer)
    WEBHOOK_ALLOWED_PRIVATE = os.environ.get("WEBHOOK_ALLOWED_PRIVATE", "")  # e.g. "127.0.0.1, 10.0.0.0/8"
    WEBHOOK_ALLOW_PRIVATE = env_bool("WEBHOOK_ALLOW_PRIVATE", False)  # every private/loopback receiver allowed
    WEBHOOK_POLL_SECONDS = env_int("WEBHOOK_POLL_SECONDS", 5)  # how often the scheduler sends due deliveries
    WEBHOOK_RETRY_SECONDS = env_int("WEBHOOK_RETRY_SECONDS", 30)  # first retry; doubled after each failure
    WEBHOOK_MAX_ATTEMPTS = env_int("WEBHOOK_MAX_ATTEMPTS", 6)  # then the delivery is marked failed
    WEBHOOK_WORKERS = env_int("WEBHOOK_WORKERS", 8)  # deliveries sent at once by one scheduler
    SERVICE_KEY_USES_DAYS = env_int("SERVICE_KEY_USES_DAYS", 90)  # each service key's trail of uses is kept this long
    WEBHOOK_KEEP_DAYS = env_int("WEBHOOK_KEEP_DAYS", 30)  # finished deliveries stay in the log this long

    # argon2id cost; argon2-cffi's defaults (64 MiB, t=3) unless lowered for tests (never below 19 MiB, t=2).
    ARGON2_MEMORY_KIB = env_int("ARGON2_MEMORY_KIB", 65536)
    ARGON2_TIME_COST = env_int("ARGON2_TIME_COST", 3)

    MAX_CONTENT_LENGTH = env_int("MAX_CONTENT_LENGTH", 4 * 1024 * 1024)

    # Organization account (issue 8): file manager, exports, deletion grace period, invoice PDFs.
    FILES_PATH = os.environ.get("FILES_PATH", "")  # empty: <instance>/files; outside static/, never served directly
    FILES_MAX_BYTES = env_int("FILES_MAX_BYTES", 10 * 1024 * 1024)  # one file
    FILES_QUOTA_BYTES = env_int("FILES_QUOTA_BYTES", 100 * 1024 * 1024)  # all files of one organization
    ACCOUNT_DELETION_DAYS = env_int("ACCOUNT_DELETION_DAYS", 14)
    EXPORT_KEEP_DAYS = env_int("EXPORT_KEEP_DAYS", 7)
    EXPORT_POLL_SECONDS = env_int("EXPORT_POLL_SECONDS", 10)  # how soon a "Download my data" request starts
    INVOICE_SELLER = os.environ.get("INVOICE_SELLER", "Kabinet")  # the operator's name, when INVOICE_SELLER_NAME is unset
    # The operator's requisites on invoices (README "Invoices"); each set value is checked at startup.
    INVOICE_SELLER_NAME = os.environ.get("INVOICE_SELLER_NAME", "")  # ООО «Кабинет»
    INVOICE_SELLER_INN = os.environ.get("INVOICE_SELLER_INN", "")  # 10 or 12 digits, check digits verified
    INVOICE_SELLER_KPP = os.environ.get("INVOICE_SELLER_KPP", "")  # 9 characters (none for an entrepreneur)
    INVOICE_SELLER_ADDRESS = os.environ.get("INVOICE_SELLER_ADDRESS", "")
    INVOICE_SELLER_BANK = os.environ.get("INVOICE_SELLER_BANK", "")  # the bank's name and city
    INVOICE_SELLER_BIC = os.environ.get("INVOICE_SELLER_BIC", "")  # БИК, 9 digits
    INVOICE_SELLER_CORR_ACCOUNT = os.environ.get("INVOICE_SELLER_CORR_ACCOUNT", "")  # к/с, keyed with the BIC
    INVOICE_SELLER_ACCOUNT = os.environ.get("INVOICE_SELLER_ACCOUNT", "")  # р/с, keyed with the BIC
    INVOICE_SELLER_DIRECTOR = os.environ.get("INVOICE_SELLER_DIRECTOR", "")  # «Руководитель» signature line
    INVOICE_SELLER_ACCOUNTANT = os.environ.get("INVOICE_SELLER_ACCOUNTANT", "")  # «Бухгалтер» signature line
    INVOICE_VAT_RATE = os.environ.get("INVOICE_VAT_RATE", "")  # a percentage included in prices, e.g. 20; empty: «Без НДС»
    # Where people are told to contact support; an organization's own settings come first (Organization page).
    SUPPORT_EMAIL = os.environ.get("SUPPORT_EMAIL", "")
    SUPPORT_PHONE = os.environ.get("SUPPORT_PHONE", "")
    SUPPORT_URL = os.environ.get("SUPPORT_URL", "")

    # Notifications (issue 7): the outbox job, retries, Telegram and Slack bots.
    NOTIFY_POLL_SECONDS = env_int("NOTIFY_POLL_SECONDS", 10)  # how often due outbox rows are delivered
    EVENT_DIGEST_SECONDS = env_int("EVENT_DIGEST_SECONDS", 60)  # subscribed events: one message per person this often
    NOTIFY_MAX_ATTEMPTS = env_int("NOTIFY_MAX_ATTEMPTS", 6)  # then the row is marked failed
    NOTIFY_RETRY_SECONDS = env_int("NOTIFY_RETRY_SECONDS", 30)  # first backoff; doubles each attempt, at most 1 h
    NOTIFY_LEASE_SECONDS = env_int("NOTIFY_LEASE_SECONDS", 120)  # a dead worker's rows are retried after this
    NOTIFY_HTTP_TIMEOUT = env_int("NOTIFY_HTTP_TIMEOUT", 10)  # one Telegram or Slack call
    NOTIFY_ALLOW_PRIVATE = env_bool("NOTIFY_ALLOW_PRIVATE", False)  # Telegram/Slack API on a private address
    TELEGRAM_API_URL = os.environ.get("TELEGRAM_API_URL", "https://api.telegram.org")
    TELEGRAM_BOT_TOKEN = os.environ.get("TELEGRAM_BOT_TOKEN", "")  # empty: the Telegram channel is off
    SLACK_API_URL = os.environ.get("SLACK_API_URL", "https://slack.com/api")
    SLACK_BOT_TOKEN = os.environ.get("SLACK_BOT_TOKEN", "")  # empty: the Slack channel is off
    OPERATIONS_POLL_SECONDS = env_int("OPERATIONS_POLL_SECONDS", 2)  # the live list of operations
    # More event types the product may report (POST /api/v1/events), as JSON:
    # {"order.paid": {"label": "Order paid", "category": "billing", "fields": ["number"]}}
    PRODUCT_EVENTS = os.environ.get("PRODUCT_EVENTS", "")
    MAIL_STATUS_POLL_SECONDS = env_int("MAIL_STATUS_POLL_SECONDS", 5)  # the mail-server status cells on the page
    EXPORT_LIST_POLL_SECONDS = env_int("EXPORT_LIST_POLL_SECONDS", 5)  # the data-export list while one is being made
    BELL_POLL_SECONDS = env_int("BELL_POLL_SECONDS", 30)  # the top bar's unread count
    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session
    LANGUAGES = ("en", "ru")
    BABEL_DEFAULT_LOCALE = "en"
    BABEL_DEFAULT_TIMEZONE = "UTC"
