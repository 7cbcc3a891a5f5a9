"""Helpers shared by the bench/bench_*.py modules (not a benchmark: bench.run only runs bench_*.py).

Every benchmark writes, and most truncate, tables: `setup()` refuses a database whose name does
not contain "bench", the same rule `python -m bench.run` applies.
"""

from __future__ import annotations

import os


def is_bench_database(name: str | None) -> bool:
    """Benchmarks write (and truncate) data: only into a database whose name says "bench"."""
    return "bench" in (name or "")


def setup(bench_name: str, writes: str = "1M rows") -> None:
    """Configure Django (once; `bench.run` has done it already) and refuse a non-bench database."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "prm.settings_test")
    import django
    from django.apps import apps

    if not apps.ready:
        django.setup()
    from django.db import connection

    name = connection.settings_dict["NAME"]
    if not is_bench_database(name):
        raise SystemExit(f"{bench_name}: refusing to write {writes} into database {name!r}; use a *bench* database.")


def execute(sql: str, params=None) -> int:
    """Run one statement; returns the row count.

    Without params (None) the driver does no %-interpolation, so such SQL writes % as is; with
    params — even an empty tuple — every literal % must be written %%.
    """
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def scalar(sql: str, params=None):
    """The first column of the first row (same % rule as `execute`)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


def pct(samples: list[float], q: float) -> float:
    """The q-quantile (0..1) of `samples`, nearest rank."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]
