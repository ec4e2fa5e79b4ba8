#!/usr/bin/env bash
# Production mode on this machine: gunicorn workers + one scheduler on the local PostgreSQL and Redis.
# Usage: deploy/run-local.sh  (WORKERS, PORT, PROD_DATABASE_URL override the defaults; stop it with Ctrl-C)
set -euo pipefail
cd "$(dirname "$0")/.."
export DATABASE_URL="${PROD_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/kabinet}"
export RATELIMIT_STORAGE_URI="${RATELIMIT_STORAGE_URI:-redis://127.0.0.1:6379/0}"
export KABINET_INSTANCE="${KABINET_INSTANCE:-$PWD/instance/prod}"
mkdir -p "$KABINET_INSTANCE"
export SECRET_KEY="${SECRET_KEY:-$(cat "$KABINET_INSTANCE/secret_key" 2>/dev/null || (openssl rand -hex 32 | tee "$KABINET_INSTANCE/secret_key"))}"
db="${DATABASE_URL##*/}"
psql "${DATABASE_URL%/*}/postgres" -tAc "SELECT 1 FROM pg_database WHERE datname='$db'" | grep -q 1 \
    || psql "${DATABASE_URL%/*}/postgres" -c "CREATE DATABASE \"$db\"" >/dev/null
.venv/bin/flask --app app:create_app db upgrade
.venv/bin/flask --app app:create_app demo --if-empty
echo "Kabinet (production mode) on http://127.0.0.1:${PORT:-8000}/ with ${WORKERS:-4} workers and one scheduler"
# Supervised as the systemd units are: a process that dies is started again, the other keeps running.
exec .venv/bin/python deploy/supervise.py \
    "scheduler=.venv/bin/flask --app app:create_app scheduler" \
    "web=.venv/bin/gunicorn --config deploy/gunicorn.conf.py --workers ${WORKERS:-4} --bind 127.0.0.1:${PORT:-8000} app:create_app()"
