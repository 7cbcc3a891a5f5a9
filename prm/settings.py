"""Settings, read from the environment.

Production is the default: DJANGO_DEBUG is off unless set, and without debug a secret key
must be given. `make run` and `make test` set the variables a developer needs.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("PRM_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DJANGO_DEBUG", False)

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off.")
    SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production"  # noqa: S105

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")
SITE_URL = os.environ.get("PRM_SITE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "prm",
    "partners",
    "deals",
    "programs",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it answers locked-out log-ins.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "prm.urls"
WSGI_APPLICATION = "prm.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "prm.context_processors.navigation",
                "partners.context_processors.staff_navigation",
            ],
        },
    },
]

# Postgres only — the product relies on pg_trgm, partial indexes and row locks.
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/prm"),
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "prm.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Log-in lock-out: per account and IP together, with a cool-off — never a permanent IP ban
# that would lock a whole partner office behind one NAT address.
AXES_FAILURE_LIMIT = int(os.environ.get("PRM_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("PRM_LOGIN_COOLOFF_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_FORM_FIELD = "username"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False

# Sessions expire when idle: every request pushes the expiry forward.
SESSION_COOKIE_AGE = int(os.environ.get("PRM_SESSION_IDLE_MINUTES", "120")) * 60
SESSION_SAVE_EVERY_REQUEST = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

LANGUAGE_CODE = "en"
# Each language named in itself, as a switcher should show it.
LANGUAGES = [("en", "English"), ("ru", "Русский")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("DJANGO_STATIC_ROOT", BASE_DIR / "staticfiles"))
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(os.environ.get("DJANGO_MEDIA_ROOT", VAR_DIR / "media"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG or env_bool("PRM_PLAIN_STATIC")
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# E-mail: console while developing, SMTP (EMAIL_HOST, …) in production.
EMAIL_BACKEND = os.environ.get(
    "DJANGO_EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend" if DEBUG else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "PRM <noreply@prm.local>")

# Celery: Redis when REDIS_URL is given, otherwise a broker that needs no server
# (kombu's filesystem transport under ./var/broker) so `make run` works anywhere.
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
else:
    _broker_dir = VAR_DIR / "broker"
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        # Broadcast/pidbox exchanges; kombu's default is ./control in the working directory.
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
# Cache: with Redis, one cache for every web process and Celery worker — dashboard numbers are
# computed once for all of them, and the lead import's progress (written by the worker) reaches
# the page. Without Redis (`make run` with no server) each process keeps its own in memory.
# The cache shares the broker's Redis database unless PRM_CACHE_REDIS_URL names another; keys
# carry PRM_CACHE_KEY_PREFIX. Never call cache.clear() on a shared database: Redis flushes the
# whole database, queued tasks included.
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ.get("PRM_CACHE_REDIS_URL", REDIS_URL),
            "KEY_PREFIX": os.environ.get("PRM_CACHE_KEY_PREFIX", "prm"),
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "prm"}}

CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_TIMEZONE = "UTC"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

REST_FRAMEWORK = {
    # Token first: DRF takes the first class's WWW-Authenticate, so anonymous calls get 401, not 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "prm.api_docs.ErrorDocumentingAutoSchema",
    "EXCEPTION_HANDLER": "prm.api.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "PRM API",
    "DESCRIPTION": "Partners, deal registration, leads and programs. Errors share one shape: "
    '{"error": {"code", "message", "fields"}}.',
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    # Swagger UI assets served from our own static files: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# Security headers. HTTPS-only settings follow DJANGO_SECURE (on by default in production).
_secure = env_bool("DJANGO_SECURE", not DEBUG)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = _secure and env_bool("DJANGO_SSL_REDIRECT", True)
SESSION_COOKIE_SECURE = _secure
CSRF_COOKIE_SECURE = _secure
SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", "31536000" if _secure else "0"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = _secure
SECURE_HSTS_PRELOAD = _secure
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("DJANGO_LOG_LEVEL", "INFO")},
    "loggers": {"axes": {"level": "WARNING"}},
}

# Product settings (PRODUCT.md defaults), overridable from the environment.
PRM = {
    "INVITATION_TTL_HOURS": int(os.environ.get("PRM_INVITATION_TTL_HOURS", "24")),
    "DORMANT_AFTER_DAYS": int(os.environ.get("PRM_DORMANT_AFTER_DAYS", "90")),
    "BASE_CURRENCY": os.environ.get("PRM_BASE_CURRENCY", "RUB"),
    # Deal registration (PRODUCT §2.3).
    "DEAL_NAME_SIMILARITY": float(os.environ.get("PRM_DEAL_NAME_SIMILARITY", "0.6")),  # conflict threshold
    "DEAL_NAME_HELD_SIMILARITY": float(os.environ.get("PRM_DEAL_NAME_HELD_SIMILARITY", "0.8")),  # pre-check "held"
    "DEAL_DEFAULT_PROTECTION_DAYS": 90,  # when a partner has no tier
    "DEAL_DEFAULT_MAX_EXTENSIONS": 1,
    "DEAL_EXTENSION_DAYS": 30,
    "DEAL_PROTECTION_REMINDER_DAYS": (14, 3),
    "DEAL_REVIEW_SLA_BUSINESS_DAYS": int(os.environ.get("PRM_DEAL_REVIEW_SLA_BUSINESS_DAYS", "2")),
    "DEAL_REVIEW_REMINDER_FRACTION": 0.75,
    "CONFLICT_ESCALATION_DAYS": int(os.environ.get("PRM_CONFLICT_ESCALATION_DAYS", "3")),
    # Business time for review SLAs: Mon–Fri 9–18 in this zone, minus holidays (admin: Holiday).
    "BUSINESS_TIME_ZONE": os.environ.get("PRM_BUSINESS_TIME_ZONE", "UTC"),
    "BUSINESS_DAY_START_HOUR": 9,
    "BUSINESS_DAY_END_HOUR": 18,
    "BUSINESS_WEEKDAYS": (0, 1, 2, 3, 4),
    "HOLIDAYS": tuple(env_list("PRM_HOLIDAYS")),  # ISO dates, in addition to the Holiday table
    "PUBLIC_MAIL_DOMAINS_EXTRA": tuple(env_list("PRM_PUBLIC_MAIL_DOMAINS_EXTRA")),
    # Business events (prm.events.publish_on_commit) → the Celery tasks that handle them. The
    # services that cause an event publish it; this is the one place that says who listens.
    "EVENT_TASKS": {
        "deal_won": ("programs.tasks_ledger.accrue_event",),
        "registration_approved": ("programs.tasks_ledger.accrue_event",),
        "sales_reported": ("programs.tasks_ledger.accrue_event",),
        "certification_earned": ("programs.tasks_ledger.accrue_event",),
        "lead_accepted_in_sla": ("programs.tasks_ledger.accrue_event",),
        "sales_returned": ("programs.tasks_ledger.clawback_event",),
        "certification_revoked": ("programs.tasks_ledger.clawback_event",),
    },
    # Dashboards, forecasts and partner health (issue 6).
    # Health score weights per component (deals.services.health); they need not sum to 1.
    "HEALTH_WEIGHTS": {
        "revenue_trend": 0.3,
        "pipeline": 0.2,
        "engagement": 0.2,
        "enablement": 0.15,
        "relationship": 0.15,
    },
    "HEALTH_RELATIONSHIP_STALE_DAYS": 90,  # no interaction for this long scores 0 on "relationship"
    "FORECAST_QUARTERS": 4,  # coming quarters forecast per snapshot run
    "FORECAST_HISTORY_MONTHS": 36,  # monthly history read for forecasting
    "FORECAST_BACKTEST_PERIODS": 6,  # rolling-origin back-test horizon (months)
    "FORECAST_MIN_MONTHS_FOR_MODEL": 24,  # fewer months of history: seasonal naive only
    "FORECAST_CHUNK_SIZE": 500,  # partners per transaction in the snapshot run (resumable cursor)
    "REORDER_MIN_ORDERS": 3,  # sell-in order days needed before an interval is trusted
    "REORDER_GRACE_DAYS": int(os.environ.get("PRM_REORDER_GRACE_DAYS", "7")),  # late by this much: remind
    # Dashboard chart numbers are kept this long per scope and filters (0 = always live).
    "DASHBOARD_CACHE_SECONDS": int(os.environ.get("PRM_DASHBOARD_CACHE_SECONDS", "300")),
    # Tier engine (PRODUCT §2.2): trailing window, demotion notice, optional manager approval.
    "TIER_WINDOW_DAYS": int(os.environ.get("PRM_TIER_WINDOW_DAYS", "365")),
    "TIER_DEMOTION_NOTICE_DAYS": int(os.environ.get("PRM_TIER_DEMOTION_NOTICE_DAYS", "90")),
    "TIER_CHANGES_NEED_APPROVAL": os.environ.get("PRM_TIER_CHANGES_NEED_APPROVAL", "0") == "1",
    # Sales record kinds counted as tier revenue (sell-out = what partners sold; adding sell-in
    # would count the same goods twice, once bought and once sold).
    "TIER_SALES_KINDS": ("sell_out",),
    # Lead routing (PRODUCT §2.3): hours a partner has to accept an offer when the rule sets none.
    "LEAD_ACCEPT_SLA_HOURS": int(os.environ.get("PRM_LEAD_ACCEPT_SLA_HOURS", "48")),
    # Exclusions kept per routing decision as examples (counts are always complete).
    "LEAD_EXCLUSION_SAMPLE": 20,
    # Loyalty points (PRODUCT §2.4): unspent points expire this many months after they were
    # earned, oldest first; partner admins are warned this many days before.
    "POINTS_EXPIRE_MONTHS": int(os.environ.get("PRM_POINTS_EXPIRE_MONTHS", "24")),
    "POINTS_EXPIRY_WARNING_DAYS": 30,
    # Connections the nightly whole-history accrual of a rule runs on at once (one shard of the
    # partners each; programs.services.ledger_accrual). Postgres does the work: about its cores.
    "POINTS_ACCRUAL_WORKERS": int(os.environ.get("PRM_POINTS_ACCRUAL_WORKERS", "2")),
    # What one point is worth in the base currency, for the points liability report.
    "POINT_VALUE_BASE": os.environ.get("PRM_POINT_VALUE_BASE", "1.00"),
}
