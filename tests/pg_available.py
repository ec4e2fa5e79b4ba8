"""Exit 0 when the PostgreSQL server in argv[1] accepts connections (used by `make test`)."""
import sys

import psycopg2

try:
    psycopg2.connect(sys.argv[1], connect_timeout=3).close()
except psycopg2.Error as exc:
    print(f"PostgreSQL: {exc}".strip(), file=sys.stderr)
    sys.exit(1)
