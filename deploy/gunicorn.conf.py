"""gunicorn's settings for Kabinet: the systemd unit, the Procfile, `make prod` and bench/load.py start
gunicorn with `--config deploy/gunicorn.conf.py` (the command line's --workers and --bind still win).

Sync workers, one request at a time each: a page is CPU work under one GIL, so threads add no
capacity on a machine of its own, and they stretch the slowest requests. Threaded workers (gthread,
4 threads, keep-alive) were measured with bench/load.py against sync workers in the same runs:
0.97-1.56x the capacity, the more the busier the machine was with other work, and a back-to-back
p99 of 350-700 ms against 210-350 ms (README: "Cost of a request", "Under load").
"""
import os

workers = int(os.environ.get("WEB_CONCURRENCY", 4))  # about two per core
worker_class = "sync"
