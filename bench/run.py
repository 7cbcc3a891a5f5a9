"""Discover bench/bench_*.py modules and run each one's `main()`.

    make bench                       # resolves Postgres/Redis like `make test`, uses prm_bench
    python -m bench.run [NAME ...]   # NAME: bench_foo or foo; DATABASE_URL: a database whose name
                                     # contains "bench" (prm_bench, prm_bench_dash, …)

A module that raises is reported and the run goes on; the exit code is 1 if any failed.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys
import time
import traceback
from pathlib import Path

from bench.common import is_bench_database

BENCH_DIR = Path(__file__).resolve().parent
BENCH_DATABASE = "prm_bench"


def discover(directory: Path = BENCH_DIR, package: str = "bench") -> list[str]:
    """Dotted names of the bench_*.py modules in `directory`, sorted."""
    return sorted(
        f"{package}.{info.name}" for info in pkgutil.iter_modules([str(directory)]) if info.name.startswith("bench_")
    )


def select(names: list[str], wanted: list[str]) -> list[str]:
    if not wanted:
        return names
    short = {name.rsplit(".", 1)[-1].removeprefix("bench_"): name for name in names}
    chosen = []
    for want in wanted:
        key = want.rsplit(".", 1)[-1].removeprefix("bench_")
        if key not in short:
            raise SystemExit(f"bench: no module bench_{key}.py (have: {', '.join(sorted(short)) or 'none'})")
        chosen.append(short[key])
    return chosen


def run(names: list[str], out=None) -> int:
    out = out or sys.stdout
    failed = []
    for name in names:
        print(f"\n== {name} ==", file=out, flush=True)
        started = time.perf_counter()
        try:
            module = importlib.import_module(name)
            module.main()
        except Exception:  # a broken benchmark must not hide the figures of the others
            failed.append(name)
            traceback.print_exc(file=out)
            print(f"-- {name}: FAILED after {time.perf_counter() - started:.1f} s", file=out, flush=True)
        else:
            print(f"-- {name}: done in {time.perf_counter() - started:.1f} s", file=out, flush=True)
    print(f"\nbench: {len(names) - len(failed)} ran, {len(failed)} failed", file=out, flush=True)
    return 1 if failed else 0


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "prm.settings_test")
    import django

    django.setup()
    from django.db import connection

    name = connection.settings_dict["NAME"]
    if not is_bench_database(name):
        raise SystemExit(
            f"bench: refusing to run against database {name!r}; benchmarks write data. "
            f"Use `make bench`, which prepares {BENCH_DATABASE!r}, or a database whose name contains 'bench'."
        )


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    names = select(discover(), argv)
    if not names:
        print("bench: no bench/bench_*.py modules yet", flush=True)
        return 0
    setup_django()
    return run(names)


if __name__ == "__main__":
    sys.exit(main())
