"""gunicorn settings for `make serve` (gunicorn -c python:outreach.gunicorn_conf), read from the environment.

Sync workers: each request holds one worker, so put a buffering reverse proxy (nginx) in front; a slow phone
on a weak signal then costs the proxy a connection, not a worker. Worker count: WEB_CONCURRENCY, else
CPU cores + 1: on 2 cores 3 sync workers served visit POSTs best (FIELD-NOTES, and docs/benchmarks.md
compares 3 with gunicorn's generic 2 × cores + 1); PostgreSQL on the same machine needs CPU too.
"""

import os

bind = os.environ.get("BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY") or (os.cpu_count() or 1) + 1)
worker_class = "sync"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))  # long work (imports, exports) runs in the worker queue
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then so a slow leak never grows without bound; jitter keeps them from all
# restarting at once.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "5000"))
max_requests_jitter = max_requests // 10
# Logs to stdout/stderr for the service manager (systemd, docker) to collect.
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
access_log_format = '%(h)s %({x-forwarded-for}i)s "%(r)s" %(s)s %(b)s %(M)sms'
# Trust X-Forwarded-* only from the proxy in front (comma-separated addresses).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
