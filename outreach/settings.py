"""Settings for 反诈包联, read from the environment with working defaults for a fresh checkout.

SQLite is the embedded default; set DATABASE_URL (postgres://…) for PostgreSQL. DEBUG is off unless
DJANGO_DEBUG=1; with DEBUG off a SECRET_KEY must be given.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF

from outreach.lib.env import envbool, envint, envlist

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = envbool("DJANGO_DEBUG", "0")
SECRET_KEY = os.environ.get("SECRET_KEY", "")
# With DEBUG off and no key, commands that sign nothing (migrate, makemigrations, check, load_divisions) still
# run; serving (outreach.wsgi: gunicorn, runserver) refuses to start with this message, and anything that would
# sign (sessions, CSRF) fails with Django's own "SECRET_KEY must not be empty".
SECRET_KEY_MISSING = not SECRET_KEY and not DEBUG
SECRET_KEY_MISSING_MESSAGE = (
    "SECRET_KEY is not set. Set SECRET_KEY in the environment (a long random string), "
    "or DJANGO_DEBUG=1 for a development run. 未设置 SECRET_KEY：生产环境请设置一个长随机串。"
)
if not SECRET_KEY and DEBUG:
    SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production"

ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "127.0.0.1,localhost" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    # Django's admin with its side bar kept per set of permissions (outreach/lib/admin_site.py).
    "outreach.lib.admin_site.OutreachAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_tables2",
    "import_export",
    "simple_history",
    "axes",
    "outreach.places",
    "outreach.accounts",
    "outreach.people",
    "outreach.campaigns",
    "outreach.visits",
    "outreach.registrations",
    "outreach.demo",
    "outreach.dashboards",
    "django_tasks",
    "django_tasks_db",
    "outreach.dataio",
    "outreach.mobile",
    "outreach.notify",
    "outreach.benchmarks",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Under DEBUG (make run) the app's own Chinese 404/500 pages rather than Django's technical ones.
    "outreach.lib.error_pages.FriendlyErrorPagesMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # django-csp's, with the header built once per process rather than on every response.
    "outreach.lib.csp.CSPMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "outreach.accounts.middleware.RevealLimitMiddleware",
    # The campaign rule reads the campaign table once per request (outreach.campaigns.rules).
    "outreach.campaigns.middleware.CampaignSnapshotMiddleware",
    # Last, as django-axes asks: it turns a lockout raised during login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "outreach.urls"
WSGI_APPLICATION = "outreach.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=envint("DB_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
SQLITE = DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"
if SQLITE:
    # Django's backend plus the function the append-only triggers use to let a flush through.
    DATABASES["default"]["ENGINE"] = "outreach.lib.sqlite"
    # WAL lets readers run beside the one writer; the timeout rides out short write bursts.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
# Lets several checkouts on one machine run the suite against one PostgreSQL server at once (SQLite keeps
# its in-memory test database: a name there would leave a file in the checkout).
if os.environ.get("TEST_DATABASE_NAME") and not SQLITE:
    DATABASES["default"]["TEST"] = {"NAME": os.environ["TEST_DATABASE_NAME"]}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

# Django's rules with Chinese messages (outreach.accounts.validators).
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "outreach.accounts.validators.UserAttributeSimilarityValidator",
        "OPTIONS": {"user_attributes": ("username", "first_name", "last_name", "email", "phone")},
    },
    {"NAME": "outreach.accounts.validators.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "outreach.accounts.validators.CommonPasswordValidator"},
    {"NAME": "outreach.accounts.validators.NumericPasswordValidator"},
]

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文")]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True
# Django's zh-Hans locale ships an input format that never parses ("%Y年%n月%j日"): ours replace it.
FORMAT_MODULE_PATH = ["outreach.formats"]
LOCALE_PATHS = [BASE_DIR / "outreach" / "locale"]

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", BASE_DIR / "media"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": os.environ.get("STATICFILES_BACKEND", "whitenoise.storage.CompressedManifestStaticFilesStorage")
    },
}
if DEBUG:
    STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"

# Django's database sessions, loaded with one hand-written statement (outreach.accounts.sessions).
SESSION_ENGINE = "outreach.accounts.sessions"
SESSION_COOKIE_AGE = envint("SESSION_COOKIE_AGE", 8 * 3600)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

if envbool("DJANGO_SECURE", "0" if DEBUG else "1"):
    SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", "1")
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
    SECURE_REFERRER_POLICY = "same-origin"

# django-import-export: importing and exporting each need their own permission.
IMPORT_EXPORT_IMPORT_PERMISSION_CODE = "import"
IMPORT_EXPORT_EXPORT_PERMISSION_CODE = "export"
IMPORT_EXPORT_SKIP_ADMIN_LOG = False

AUTHENTICATION_BACKENDS = [
    # First: refuses a locked-out username+address before any password is checked.
    "outreach.accounts.backends.LockoutBackend",
    # Before the password backend: a permission the role grants is answered without a query.
    "outreach.accounts.permissions.RoleBackend",
    "outreach.accounts.backends.PasswordBackend",
]

# --- Dashboards (issue 7): rankings, 通报 ---------------------------------------------------------------
# A unit among the last three of this many consecutive 通报 of one series is flagged for 约谈/督办.
DASHBOARD_BOTTOM_STREAK = envint("DASHBOARD_BOTTOM_STREAK", 5)
# A page that reads summaries rebuilds villages marked stale only once their mark is this old: in production
# the refresh job queued on commit (run by `db_worker`, like imports) refreshes them within seconds, so pages
# never pay for it; if the worker is behind or down, a page pays after this many seconds. 0 (development,
# tests): at once.
DASHBOARD_REFRESH_GRACE_SECONDS = envint("DASHBOARD_REFRESH_GRACE_SECONDS", 0 if DEBUG else 30)
# How long a process may keep a ranking it computed (PostgreSQL only; 0: never). Any write to the tables the ranking
# is computed from drops it at once (a trigger moves dashboards_figures_version); this bounds only a ranking read
# while such a write was being committed. Never longer than the grace above, so no figure is later than it says.
DASHBOARD_RANKING_CACHE_SECONDS = min(
    envint("DASHBOARD_RANKING_CACHE_SECONDS", DASHBOARD_REFRESH_GRACE_SECONDS), DASHBOARD_REFRESH_GRACE_SECONDS
)
# 通报 vs 走访 reconciliation: the gap (通报注册−走访注册) "jumps" when it moves between two reports by more than
# this percentage of the earlier report's 安装注册人数.
RECONCILE_GAP_JUMP_PERCENT = envint("RECONCILE_GAP_JUMP_PERCENT", 10)

# --- Roles, scopes and personal-data protection (issue 3) ---------------------------------------------
# Login: lock a username *at one address* after repeated failures (one office shares an address, so an
# address alone would lock everyone; a username alone would let anyone lock out a colleague from afar).
AXES_FAILURE_LIMIT = envint("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=envint("AXES_COOLOFF_MINUTES", 30))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "outreach.accounts.views.lockout_response"
AXES_VERBOSE = False
# Behind a reverse proxy (nginx) set TRUSTED_PROXY_COUNT=1 so the lockout and the access log see the
# client's address from X-Forwarded-For rather than the proxy's (which would lock a username everywhere).
TRUSTED_PROXY_COUNT = envint("TRUSTED_PROXY_COUNT", 0)
AXES_CLIENT_IP_CALLABLE = "outreach.lib.http.client_ip"

LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "accounts:login"
# Sessions end after SESSION_COOKIE_AGE (8 hours by default) or when the browser closes.
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

# Content-Security-Policy (django-csp 4): no inline script or style anywhere, nothing from other hosts.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:", "blob:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "worker-src": [SELF],
        "manifest-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
X_FRAME_OPTIONS = "DENY"
# The health check answers plain HTTP from the load balancer.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# Request sizes: form bodies (not files) up to 5 MB; uploads above 2.5 MB go to a temporary file on disk,
# which only the app may read. Import files have their own limits in the import code.
DATA_UPLOAD_MAX_MEMORY_SIZE = envint("DATA_UPLOAD_MAX_MEMORY_SIZE", 5 * 1024 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = envint("FILE_UPLOAD_MAX_MEMORY_SIZE", 2_621_440)
DATA_UPLOAD_MAX_NUMBER_FIELDS = 2000
FILE_UPLOAD_PERMISSIONS = 0o640
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o750

# django-simple-history: history is for reading; reverting through it would bypass the services.
SIMPLE_HISTORY_REVERT_DISABLED = True
SIMPLE_HISTORY_HISTORY_ID_USE_UUID = False

# --- Data import/export (issue 4: outreach.dataio) ---------------------------------------------------------
# Big imports and exports run in the background: django-tasks keeps its queue in our own database and
# `python manage.py db_worker` runs it. A development run (DEBUG, no TASKS_BACKEND) runs tasks in the request
# instead, so `make run` needs no second process.
TASKS = {
    "default": {
        "BACKEND": os.environ.get(
            "TASKS_BACKEND",
            "django_tasks.backends.immediate.ImmediateBackend" if DEBUG else "django_tasks_db.DatabaseBackend",
        ),
        "QUEUES": ["default"],
    }
}
# Uploaded and exported files live outside MEDIA_ROOT and STATIC_ROOT: nothing web-served reaches them.
DATAIO_DIR = Path(os.environ.get("DATAIO_DIR", BASE_DIR / "var" / "dataio"))
DATAIO_MAX_UPLOAD_MB = envint("DATAIO_MAX_UPLOAD_MB", 50)
# A zip member larger than this (uncompressed), or all of them together, is refused before opening: a
# 100,000-row 责任分工表 saved with inline strings unpacks to ~66 MB; a refused file then peaks under 400 MB.
DATAIO_MAX_UNCOMPRESSED_MB = envint("DATAIO_MAX_UNCOMPRESSED_MB", 100)
# The shared-string table is read whole before any row: real sheets' tables are a few MB to ~20 MB.
DATAIO_MAX_SHARED_STRINGS_MB = envint("DATAIO_MAX_SHARED_STRINGS_MB", 40)
# Real sheets compress 3:1 to 30:1; a member of 1 MB or more above this ratio is a zip bomb.
DATAIO_MAX_ZIP_RATIO = envint("DATAIO_MAX_ZIP_RATIO", 100)
# No clerk's cell is this long (addresses and notes are a few hundred characters at most).
DATAIO_MAX_CELL_CHARS = envint("DATAIO_MAX_CELL_CHARS", 2000)
# A job "running" with no heartbeat for this long was left by a killed worker and is marked failed.
DATAIO_STALE_MINUTES = envint("DATAIO_STALE_MINUTES", 10)
# Files of previews nobody confirmed are deleted after this many hours.
DATAIO_ABANDONED_HOURS = envint("DATAIO_ABANDONED_HOURS", 24)
# make run shows the app's own error pages; DJANGO_TECHNICAL_ERRORS=1 brings back Django's debug pages.
TECHNICAL_ERROR_PAGES = envbool("DJANGO_TECHNICAL_ERRORS", "0")
# Reveals of full phone numbers ("查看完整号码" and searches by a full number) allowed per user per hour.
PHONE_REVEAL_LIMIT_PER_HOUR = envint("PHONE_REVEAL_LIMIT_PER_HOUR", 30)
# django-import-export's file between preview and confirm (the user import): under DATAIO_DIR, swept.
IMPORT_EXPORT_TMP_STORAGE_CLASS = "outreach.lib.uploads.GuardedTempStorage"
# --- 督办单 (issue 12, outreach.dashboards.supervision) ---
# Days a unit has to answer an order (from the day it is opened).
SUPERVISION_DEADLINE_DAYS = envint("SUPERVISION_DEADLINE_DAYS", 3)
# Largest file a unit may attach to its 整改措施 (PDF, Word, Excel or a photo), checked by lib.uploads.
SUPERVISION_MAX_ATTACHMENT_MB = envint("SUPERVISION_MAX_ATTACHMENT_MB", 10)
# --- Phone pages and checks on visits (issue 5, outreach.mobile) ---
# Largest JSON body a phone may post for one visit (signature + a resized photo + fields).
# The endpoint reads its body itself with this limit, independent of DATA_UPLOAD_MAX_MEMORY_SIZE (forms).
MOBILE_MAX_VISIT_BYTES = envint("MOBILE_MAX_VISIT_BYTES", 4_000_000)
# Integrity flags (outreach.mobile.services.scan_visits): N households by one recorder within M minutes,
# night hours (local), and how far from the median location of the village's other visits is "far".
MOBILE_RAPID_HOUSEHOLDS = envint("MOBILE_RAPID_HOUSEHOLDS", 5)
MOBILE_RAPID_MINUTES = envint("MOBILE_RAPID_MINUTES", 10)
MOBILE_NIGHT_HOURS = (22, 6)
MOBILE_FAR_KM = 3.0
MOBILE_FAR_MIN_POINTS = 3


# --- Production serving and city scale (issue 6) ---------------------------------------------------------
# A read replica for the dashboard pages when load needs it: set DATABASE_REPLICA_URL to a streaming
# replica of the primary. GET requests under REPLICA_READ_PATHS read from it; all else uses "default".
if os.environ.get("DATABASE_REPLICA_URL"):
    DATABASES["replica"] = dj_database_url.parse(
        os.environ["DATABASE_REPLICA_URL"], conn_max_age=envint("DB_CONN_MAX_AGE", 60), conn_health_checks=True
    )
    # A replica that does not answer must not hold a dashboard page for long: the page falls back to the primary.
    if "postgresql" in DATABASES["replica"]["ENGINE"]:
        DATABASES["replica"].setdefault("OPTIONS", {})["connect_timeout"] = envint("REPLICA_CONNECT_TIMEOUT", 2)
    # Tests read the replica's rows from the test database itself.
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
    DATABASE_ROUTERS = ["outreach.lib.replica.ReplicaRouter"]
    MIDDLEWARE.append("outreach.lib.replica.ReplicaReadMiddleware")
REPLICA_READ_PATHS = tuple(envlist("REPLICA_READ_PATHS", "/dashboard/"))
# Logins, sessions and permissions are always read from the primary: a session saved a moment ago may not
# have reached the replica yet, and the user would be sent back to the login page.
REPLICA_PRIMARY_ONLY_APPS = frozenset({"sessions", "auth", "accounts", "contenttypes", "admin", "axes"})
# After a failed replica, dashboards read the primary for this many seconds before the replica is tried again.
REPLICA_RETRY_SECONDS = envint("REPLICA_RETRY_SECONDS", 5)


# --- Pushes to the work groups (issue 12: outreach.notify) ------------------------------------------------
# The address people open the app at: the link in every group message (a bulletin, the chase reminder).
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
# A webhook must be https on its robot's host (qyapi.weixin.qq.com, oapi.dingtalk.com); extra hosts (a private
# 企业微信 server) may be added here. PUSH_ALLOW_LOOPBACK=1 lets http://127.0.0.1 in (tests, a local trial).
PUSH_EXTRA_HOSTS = envlist("PUSH_EXTRA_HOSTS")
PUSH_ALLOW_LOOPBACK = envbool("PUSH_ALLOW_LOOPBACK", "0")
# Outbound proxy for the webhooks, if the servers reach the internet only through one (the environment's
# http_proxy is ignored, so no proxy is used by accident).
PUSH_PROXY = os.environ.get("PUSH_PROXY", "")
# One attempt waits this long for an answer; a failed one is retried after PUSH_RETRY_SECONDS × 2^(n-1)
# (60 s, 2, 4, 8 min …, at most an hour) until PUSH_MAX_ATTEMPTS attempts.
PUSH_TIMEOUT_SECONDS = envint("PUSH_TIMEOUT_SECONDS", 5)
PUSH_RETRY_SECONDS = envint("PUSH_RETRY_SECONDS", 60)
PUSH_MAX_ATTEMPTS = envint("PUSH_MAX_ATTEMPTS", 5)
