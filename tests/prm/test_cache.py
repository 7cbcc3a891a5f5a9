"""The cache: Redis when REDIS_URL is set (shared by every web process and Celery worker, so the
dashboard numbers are computed once for all of them and the lead import's progress written by
the worker is seen by the page), this process's memory otherwise (`make run` with no Redis).
Tests get a key prefix of their own per run, emptied between tests without touching anyone
else's keys (nor the Celery broker's, which shares the Redis database)."""

import json
import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings
from django.core.cache import cache

from tests.conftest import clear_test_cache

ROOT = Path(settings.BASE_DIR)


def _settings_in_subprocess(module: str, **env) -> dict:
    base = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "PRM_CACHE_KEY_PREFIX"}}
    base.update(DJANGO_SETTINGS_MODULE=module, DJANGO_DEBUG="1", **env)
    code = "import json; from django.conf import settings; print(json.dumps(settings.CACHES['default']))"
    result = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=ROOT,
        env=base,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_settings_use_redis_with_a_key_prefix_when_redis_url_is_set():
    caches = _settings_in_subprocess("prm.settings", REDIS_URL="redis://127.0.0.1:6379/13")
    assert caches["BACKEND"] == "django.core.cache.backends.redis.RedisCache"
    assert caches["LOCATION"] == "redis://127.0.0.1:6379/13"
    assert caches["KEY_PREFIX"] == "prm"


def test_settings_keep_the_memory_cache_without_redis():
    caches = _settings_in_subprocess("prm.settings")
    assert caches["BACKEND"] == "django.core.cache.backends.locmem.LocMemCache"


def test_cache_is_shared_with_other_processes():
    """What one process (a web worker) caches, another (a Celery worker) reads."""
    cache.set("shared-probe", "from the test process", 60)
    code = "from django.core.cache import cache; print(cache.get('shared-probe'))"
    result = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "prm.settings_test"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "from the test process"


def test_tests_have_a_key_prefix_of_their_own():
    prefix = settings.CACHES["default"]["KEY_PREFIX"]
    assert prefix.startswith("prm-test-") and prefix == os.environ["PRM_CACHE_KEY_PREFIX"]


def test_clearing_between_tests_leaves_other_keys_alone():
    client = cache._cache.get_client(write=True)
    client.set("someone-else:1:key", "theirs", ex=60)
    cache.set("mine", "ours", 60)
    try:
        clear_test_cache()
        assert cache.get("mine") is None
        assert client.get("someone-else:1:key") == b"theirs"
    finally:
        client.delete("someone-else:1:key")
