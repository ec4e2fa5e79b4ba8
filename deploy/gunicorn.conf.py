"""gunicorn's settings for Kabinet: the systemd unit, the Procfile, `make prod` and bench/load.py start
gunicorn with `--config deploy/gunicorn.conf.py` (the command line's --workers and --bind still win).

Threaded workers keep a browser's connection open between its requests and go on serving other
connections while one request waits for PostgreSQL; a sync worker closes every connection and then
waits for the client to close its side too. Measured with bench/load.py (README: "Cost of a request").
"""
import os

workers = int(os.environ.get("WEB_CONCURRENCY", 4))
worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS", 4))
keepalive = 5  # seconds an idle browser connection is kept (a page's htmx requests follow within that)
