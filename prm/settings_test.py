"""Test settings: the real settings with test-friendly defaults. Postgres and Redis are real."""

import os
import uuid

os.environ.setdefault("DJANGO_SECRET_KEY", "test-only-secret-key-not-for-production-use-0123456789")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/prm")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")
os.environ.setdefault("DJANGO_SECURE", "0")
os.environ.setdefault("PRM_PLAIN_STATIC", "1")
os.environ.setdefault("PRM_DASHBOARD_CACHE_SECONDS", "0")  # tests compare live numbers
# Cache keys of this test run only (runs and xdist workers share a Redis database with each other
# and the broker); in os.environ so processes a test starts use the same prefix.
# tests/conftest.py deletes this prefix's keys after each test.
os.environ.setdefault("PRM_CACHE_KEY_PREFIX", f"prm-test-{uuid.uuid4().hex[:12]}")

from prm.settings import *  # noqa: E402,F403

ALLOWED_HOSTS = ["*"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast; tests create many users
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
LANGUAGE_CODE = "en"

# Serve static files from the finders in live-server (browser) tests; no collectstatic needed.
WHITENOISE_USE_FINDERS = True
STATIC_ROOT = VAR_DIR / "test-static"  # noqa: F405
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
