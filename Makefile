# 反诈包联 — the two commands of the README, and a few more for developers.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
DEV_ENV := DJANGO_DEBUG=1
PG_URL ?= postgres://postgres@127.0.0.1:5432/test

.PHONY: run setup test test-sqlite test-postgres lint browser-deps office-deps clean

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -r requirements.txt
	touch $@

setup: $(VENV)/.installed

## make run: a fresh machine to the app on http://127.0.0.1:8000 with 运城 divisions and the demo loaded.
run: setup
	$(DEV_ENV) $(PY) manage.py migrate --noinput
	$(DEV_ENV) $(PY) manage.py load_divisions
	$(DEV_ENV) $(PY) manage.py seed_demo
	$(DEV_ENV) $(PY) manage.py runserver 127.0.0.1:8000

## make test: installs what the tests need, then lint, checks and the suite on SQLite and on PostgreSQL.
test: setup browser-deps office-deps lint test-sqlite test-postgres

browser-deps:
	@if command -v chromium >/dev/null 2>&1 && fc-list 2>/dev/null | grep -qi "noto.*cjk"; then \
		echo "chromium 与中文字体已安装"; \
	elif [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null) \
		|| { echo "安装 chromium / fonts-noto-cjk 失败"; exit 1; }; \
	else \
		echo "缺少 chromium 或 fonts-noto-cjk：请以 root 运行 apt-get install -y chromium fonts-noto-cjk"; exit 1; \
	fi

## office-deps: LibreOffice (headless, no GUI) and poppler, for the check that the Word 通报 converts to PDF.
office-deps:
	@if command -v soffice >/dev/null 2>&1 && command -v pdftotext >/dev/null 2>&1; then \
		echo "LibreOffice 与 poppler-utils 已安装"; \
	elif [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libreoffice-writer-nogui poppler-utils >/dev/null) \
		|| { echo "安装 libreoffice-writer-nogui / poppler-utils 失败"; exit 1; }; \
	else \
		echo "缺少 LibreOffice 或 poppler-utils：请以 root 运行 apt-get install -y libreoffice-writer-nogui poppler-utils"; exit 1; \
	fi

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(DEV_ENV) $(PY) manage.py check
	$(DEV_ENV) $(PY) manage.py makemigrations --check --dry-run

test-sqlite: setup
	@echo "== 测试：SQLite"
	env -u DATABASE_URL $(DEV_ENV) $(VENV)/bin/pytest

test-postgres: setup
	@if $(PY) -c "import psycopg,sys; psycopg.connect('$(PG_URL)', connect_timeout=3).close()" 2>/dev/null; then \
		echo "== 测试：PostgreSQL ($(PG_URL))"; \
		DATABASE_URL=$(PG_URL) $(DEV_ENV) $(VENV)/bin/pytest; \
	else \
		echo "!! PostgreSQL 在 $(PG_URL) 无法连接：跳过 PostgreSQL 这一轮测试（CI 上必须可用）"; \
		if [ -n "$$CI" ]; then exit 1; fi; \
	fi

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles .pytest_cache

# --- City-scale benchmark and production serving (issue 6) -----------------------------------------------
.PHONY: bench bench-deps serve
## make bench: builds the city dataset in its own database if missing, then measures every path.
## The benchmark's users search by full phone numbers 2×(runs+2) times a run: the hourly reveal limit is lifted.
BENCH_DB_URL ?= postgres://postgres@127.0.0.1:5432/bench_city
BENCH_HOUSEHOLDS ?= 1000000
BENCH_ARGS ?= --docs docs/benchmarks.md
BENCH_ENV := DATABASE_URL=$(BENCH_DB_URL) DJANGO_DEBUG=0 DJANGO_SECURE=0 \
	SECRET_KEY=benchmark-only-not-a-secret-0123456789abcdefghijklmnopqrstuvwxyz \
	ALLOWED_HOSTS=127.0.0.1,localhost,testserver PHONE_REVEAL_LIMIT_PER_HOUR=100000 \
	STATICFILES_BACKEND=django.contrib.staticfiles.storage.StaticFilesStorage

bench: setup bench-deps
	$(PY) -m outreach.benchmarks.createdb "$(BENCH_DB_URL)"
	$(BENCH_ENV) $(PY) manage.py migrate --noinput -v0
	$(BENCH_ENV) $(PY) manage.py load_divisions
	$(BENCH_ENV) $(PY) manage.py build_city --households $(BENCH_HOUSEHOLDS)
	$(BENCH_ENV) $(PY) manage.py benchmark $(BENCH_ARGS)

bench-deps:
	@if command -v wrk >/dev/null 2>&1; then \
		echo "wrk 已安装"; \
	elif [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null) \
		|| echo "安装 wrk 失败：改用内置的 Python 负载生成器"; \
	else \
		echo "没有 wrk（以 root 运行 apt-get install -y wrk 可安装）：改用内置的 Python 负载生成器"; \
	fi

## make serve: production start — migrations, static files, the background worker and gunicorn, logs to stdout.
## Needs SECRET_KEY, DATABASE_URL, ALLOWED_HOSTS (and CSRF_TRUSTED_ORIGINS) in the environment.
## The one worker runs every background job: imports, exports, the summary refresh the rankings read, group pushes.
serve: setup
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput -v0
	$(PY) manage.py load_divisions
	@worker=""; \
	if $(PY) manage.py help db_worker >/dev/null 2>&1; then \
		$(PY) manage.py db_worker & worker=$$!; \
		echo "后台任务进程已启动（pid $$worker）：导入导出、汇总表刷新、工作群推送"; \
	else \
		echo "没有 db_worker 命令：导入导出和汇总表刷新的后台任务不会执行（排名页面在宽限期后自己刷新）"; \
	fi; \
	$(VENV)/bin/gunicorn outreach.wsgi -c python:outreach.gunicorn_conf & web=$$!; \
	trap 'kill -TERM $$web $$worker 2>/dev/null' INT TERM; \
	wait $$web; status=$$?; \
	if [ -n "$$worker" ]; then kill -TERM $$worker 2>/dev/null; fi; \
	wait; exit $$status

# --- Fault drill (issue 15) ----------------------------------------------------------------------------------
.PHONY: drill drill-deps
## make drill: its own PostgreSQL primary and streaming replica on 127.0.0.1 (ports 55432/55433, data in a temporary
## folder), the city from build_city, then each fault under load; prints a table and a JSON line, writes docs/drills.md.
DRILL_HOUSEHOLDS ?= $(BENCH_HOUSEHOLDS)
DRILL_ARGS ?= --docs docs/drills.md

drill: setup drill-deps
	env -u DATABASE_URL -u DATABASE_REPLICA_URL DJANGO_DEBUG=0 \
		SECRET_KEY=drill-only-not-a-secret-0123456789abcdefghijklmnopqrstuvwxyz \
		$(PY) manage.py drill --households $(DRILL_HOUSEHOLDS) $(DRILL_ARGS)

drill-deps:
	@if ls /usr/lib/postgresql/*/bin/pg_basebackup >/dev/null 2>&1 && ls /usr/share/postgresql/*/extension/pg_stat_statements.control >/dev/null 2>&1; then \
		echo "PostgreSQL 服务端程序已安装"; \
	elif [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
		mkdir -p /etc/postgresql-common && \
		{ grep -q "^create_main_cluster" /etc/postgresql-common/createcluster.conf 2>/dev/null || \
		  echo "create_main_cluster = false" >> /etc/postgresql-common/createcluster.conf; } && \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql postgresql-contrib >/dev/null) \
		|| { echo "安装 postgresql 失败"; exit 1; }; \
	else \
		echo "缺少 PostgreSQL 服务端程序（initdb、pg_ctl、pg_basebackup）：请以 root 运行 apt-get install -y postgresql"; exit 1; \
	fi
