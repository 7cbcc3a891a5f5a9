"""The project's control script, behind `make run`, `make test`, `make bench` and `make seed`.

    python -m scripts.prmctl run        # migrate, seed once, serve + Celery worker + beat
    python -m scripts.prmctl test [...] # ruff, migrations check, compilemessages, pytest
    python -m scripts.prmctl bench [...]
    python -m scripts.prmctl seed
    python -m scripts.prmctl pg start|stop|status

Where the database comes from:
- `run` / `seed`: DATABASE_URL when set, otherwise the embedded Postgres in $PRM_VAR_DIR/pg
  (./var/pg), started when not running and stopped again on exit if we started it.
- `test` / `bench`: DATABASE_URL when set, otherwise Postgres on 127.0.0.1:5432 (user postgres)
  when it answers, otherwise the embedded Postgres. Redis: REDIS_URL when set, otherwise
  127.0.0.1:6379 when it answers; otherwise we stop and say so — tests never use a fake broker.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
LOCAL_PG_URL = "postgres://postgres@127.0.0.1:5432/prm"
LOCAL_REDIS_URL = "redis://127.0.0.1:6379/15"
BENCH_DATABASE = "prm_bench"
CHROMIUM = Path("/usr/bin/chromium")

DEMO_PASSWORD = "demo-pass-2026"  # noqa: S105 — the published demo password
DEMO_LOGINS = [
    ("admin@demo.prm", "administrator (superuser, /admin/)"),
    ("manager@demo.prm", "channel manager"),
    ("lead@demo.prm", "channel lead"),
    ("partner@demo.prm", 'partner admin of "Northwind Systems"'),
    ("rep@demo.prm", 'partner rep of "Northwind Systems"'),
    ("partner2@demo.prm", 'partner admin of "Baltic Trade House"'),
]


class PrmctlError(Exception):
    """A failure we can explain in one message; printed without a traceback."""


def say(message: str) -> None:
    print(f"==> {message}", flush=True)


def var_dir() -> Path:
    return Path(os.environ.get("PRM_VAR_DIR") or ROOT / "var").resolve()


# -- databases ---------------------------------------------------------------------------------
def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def _connect(url: str, timeout: int = 3):
    import psycopg2

    return psycopg2.connect(url, connect_timeout=timeout)


def postgres_answers(url: str) -> bool:
    import psycopg2

    try:
        _connect(with_database(url, "postgres")).close()
    except psycopg2.OperationalError:
        return False
    return True


def ensure_database(url: str) -> None:
    """Create the database named in `url` when it does not exist."""
    import psycopg2
    from psycopg2 import sql

    try:
        _connect(url).close()
        return
    except psycopg2.OperationalError as exc:
        if "does not exist" not in str(exc):
            raise PrmctlError(f"cannot connect to {redact(url)}: {exc}".strip()) from exc
    conn = _connect(with_database(url, "postgres"))
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database_name(url)])
            if cur.fetchone() is None:
                cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database_name(url))))
                say(f"created database {database_name(url)}")
    finally:
        conn.close()


def redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


@contextmanager
def database(purpose: str):
    """Yield a DATABASE_URL for `purpose` ("run" or "test"); stop an embedded server we started."""
    if os.environ.get("DATABASE_URL"):
        url = os.environ["DATABASE_URL"]
        say(f"database: {redact(url)} (DATABASE_URL)")
        yield url
        return
    if purpose == "test" and postgres_answers(LOCAL_PG_URL):
        say(f"database: {LOCAL_PG_URL} (the Postgres answering on 127.0.0.1:5432)")
        yield LOCAL_PG_URL
        return
    from scripts.embedded_pg import EmbeddedPostgres

    pg = EmbeddedPostgres(var_dir() / "pg")
    say(f"database: embedded Postgres 18 in {pg.data_dir} (set DATABASE_URL to use another)")
    try:
        pg.start()
    except (RuntimeError, subprocess.SubprocessError) as exc:
        raise PrmctlError(str(exc)) from exc
    url = pg.url("prm")
    say(f"database: {url} ({'started' if pg.started_here else 'already running'})")
    try:
        yield url
    finally:
        if pg.started_here:
            say("stopping the embedded Postgres")
            pg.stop()


def redis_answers(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2).ping())
    except redis.RedisError:
        return False


def redis_for_tests() -> str:
    if os.environ.get("REDIS_URL"):
        url = os.environ["REDIS_URL"]
        if not redis_answers(url):
            raise PrmctlError(f"REDIS_URL is set to {redact(url)} but no Redis answers there.")
        say(f"redis: {redact(url)} (REDIS_URL)")
        return url
    if redis_answers(LOCAL_REDIS_URL):
        say(f"redis: {LOCAL_REDIS_URL} (the Redis answering on 127.0.0.1:6379)")
        return LOCAL_REDIS_URL
    raise PrmctlError(
        "no Redis answers on 127.0.0.1:6379 and REDIS_URL is not set. The tests use a real broker, "
        "never a mocked one: start Redis (e.g. `redis-server --daemonize yes --port 6379 --save ''`) "
        "or set REDIS_URL=redis://host:port/db."
    )


# -- processes ---------------------------------------------------------------------------------
def base_env(**overrides: str) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("PYTHONUNBUFFERED", "1")
    env.update(overrides)
    return env


def manage(*args: str, env: dict[str, str], check: bool = True, capture: bool = False) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 — our own argv, no shell
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        check=check,
        text=True,
        stdout=subprocess.PIPE if capture else None,
    )


def ensure_broker_dirs() -> None:
    """The filesystem transport (no REDIS_URL) needs its folders before the worker starts."""
    for sub in ("queue", "processed", "control"):
        (var_dir() / "broker" / sub).mkdir(parents=True, exist_ok=True)


SEED_STATE = (
    "from django.core.management import get_commands\n"
    "from django.contrib.auth import get_user_model\n"
    "print('seed_demo' in get_commands(), get_user_model().objects.filter(email='admin@demo.prm').exists())\n"
)


def seed_demo(env: dict[str, str], *, force: bool) -> None:
    has_command, seeded = manage("shell", "-c", SEED_STATE, env=env, capture=True).stdout.split()[-2:]
    if seeded == "True" and not force:
        say("demo data already loaded (make seed loads it again)")
        return
    if has_command != "True":
        raise PrmctlError(
            "there is no `seed_demo` management command, so there is no demo data to load. "
            "It is how `make run` fills a new database; add it (a management command in one of the apps)."
        )
    say("loading demo data: manage.py seed_demo")
    manage("seed_demo", env=env)


def print_logins(port: str) -> None:
    width = max(len(email) for email, _ in DEMO_LOGINS)
    lines = [f"  {email:<{width}}  {role}" for email, role in DEMO_LOGINS]
    print(
        "\n".join(
            [
                "",
                f"PRM is starting on http://127.0.0.1:{port}/  (Ctrl-C stops everything)",
                f"Demo log-ins, all with the password {DEMO_PASSWORD}:",
                *lines,
                "",
            ]
        ),
        flush=True,
    )


def cmd_run(args: argparse.Namespace) -> int:
    from scripts.supervisor import Supervisor

    port = os.environ.get("PORT") or "8000"
    var_dir().mkdir(parents=True, exist_ok=True)
    with database("run") as url:
        ensure_database(url)
        env = base_env(DATABASE_URL=url, DJANGO_SETTINGS_MODULE="prm.settings")
        env.setdefault("DJANGO_DEBUG", "1")
        if not env.get("REDIS_URL"):
            ensure_broker_dirs()
            say(f"broker: files under {var_dir() / 'broker'} (set REDIS_URL to use Redis)")
        else:
            say(f"broker: {redact(env['REDIS_URL'])} (REDIS_URL)")
        say("migrating")
        manage("migrate", "--noinput", env=env)
        if not args.skip_seed:
            seed_demo(env, force=False)
            print_logins(port)
        supervisor = Supervisor(env=env, cwd=str(ROOT))
        supervisor.add("web", [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}"])
        supervisor.add(
            "worker",
            [sys.executable, "-m", "celery", "-A", "prm", "worker", "-l", "INFO", "--concurrency", "2"]
            + ["--without-gossip", "--without-mingle"],
        )
        supervisor.add("beat", [sys.executable, "-m", "celery", "-A", "prm", "beat", "-l", "INFO"])
        return supervisor.run()


def cmd_seed(args: argparse.Namespace) -> int:
    with database("run") as url:
        ensure_database(url)
        env = base_env(DATABASE_URL=url, DJANGO_SETTINGS_MODULE="prm.settings")
        env.setdefault("DJANGO_DEBUG", "1")
        manage("migrate", "--noinput", env=env)
        seed_demo(env, force=True)
        print_logins(os.environ.get("PORT") or "8000")
    return 0


def cmd_supervise(args: argparse.Namespace) -> int:
    """Run NAME=COMMAND pairs under the supervisor (used by the tests and for ad-hoc stacks)."""
    from scripts.supervisor import Supervisor

    supervisor = Supervisor(grace_s=args.grace) if args.grace is not None else Supervisor()
    for spec in args.procs:
        name, _, command = spec.partition("=")
        supervisor.add(name, shlex.split(command))
    return supervisor.run()


def _step(name: str, argv: list[str], env: dict[str, str], results: list) -> int:
    say(name)
    started = time.monotonic()
    code = subprocess.run(argv, cwd=ROOT, env=env, check=False).returncode  # noqa: S603
    results.append((name, code, time.monotonic() - started))
    return code


def locale_dirs() -> list[Path]:
    """The project's translation folders: locale/ and any app's <app>/locale/."""
    return [path for path in [ROOT / "locale", *ROOT.glob("*/locale")] if path.is_dir() and path.parent.name != ".venv"]


def cmd_test(args: argparse.Namespace) -> int:
    pytest_args = list(args.pytest_args)
    if os.environ.get("SKIP_BROWSER") == "1":
        pytest_args += ["-m", "not browser"]
    elif not CHROMIUM.exists():
        raise PrmctlError(
            f"{CHROMIUM} is missing; the browser tests drive Debian's Chromium. Install it with "
            "`apt-get update && apt-get install -y chromium` (bash .ci/run does this), "
            "or run `SKIP_BROWSER=1 make test` to leave the browser tests out."
        )
    redis_url = redis_for_tests()
    results: list[tuple[str, int, float]] = []
    with database("test") as url:
        ensure_database(url)  # makemigrations checks the migration history against it
        env = base_env(DATABASE_URL=url, REDIS_URL=redis_url, DJANGO_SETTINGS_MODULE="prm.settings_test")
        py = sys.executable
        _step("ruff check .", [py, "-m", "ruff", "check", "."], env, results)
        _step("ruff format --check .", [py, "-m", "ruff", "format", "--check", "."], env, results)
        _step(
            "manage.py makemigrations --check --dry-run",
            [py, "manage.py", "makemigrations", "--check", "--dry-run"],
            env,
            results,
        )
        if locale_dirs():
            if shutil.which("msgfmt") is None:
                raise PrmctlError("there are translations but msgfmt is missing: apt-get install -y gettext")
            compile_argv = [py, "manage.py", "compilemessages", "--ignore", ".venv", "--ignore", "var"]
            _step("manage.py compilemessages", compile_argv, env, results)
        else:
            say("no locale/ folder: no translations to compile")
        # --create-db: a test database left from an earlier run must never hide a migration problem.
        _step("pytest", [py, "-m", "pytest", "--create-db", *pytest_args], env, results)
    failed = [name for name, code, _ in results if code != 0]
    print("\nmake test summary:", flush=True)
    for name, code, seconds in results:
        print(f"  {'ok  ' if code == 0 else 'FAIL'} {seconds:7.1f}s  {name}", flush=True)
    if failed:
        print(f"make test: FAILED — {', '.join(failed)}", flush=True)
        return 1
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    redis_url = redis_for_tests()
    with database("test") as url:
        bench_url = with_database(url, BENCH_DATABASE)
        ensure_database(bench_url)
        env = base_env(DATABASE_URL=bench_url, REDIS_URL=redis_url, DJANGO_SETTINGS_MODULE="prm.settings_test")
        say(f"migrating {BENCH_DATABASE}")
        manage("migrate", "--noinput", "-v", "0", env=env)
        argv = [sys.executable, "-m", "bench.run", *args.names]
        return subprocess.run(argv, cwd=ROOT, env=env, check=False).returncode  # noqa: S603


def cmd_pg(args: argparse.Namespace) -> int:
    from scripts.embedded_pg import EmbeddedPostgres

    pg = EmbeddedPostgres(var_dir() / "pg")
    if args.action == "start":
        pg.start()
        print(pg.url("prm"))
    elif args.action == "stop":
        pg.stop()
    else:
        print(f"running: {pg.url('prm')}" if pg.is_running() else "not running")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="prmctl", description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="migrate, seed once, serve with a Celery worker and beat")
    run.add_argument("--skip-seed", action="store_true", help="do not load demo data (tests)")
    run.set_defaults(func=cmd_run)
    sub.add_parser("seed", help="load the demo data (manage.py seed_demo)").set_defaults(func=cmd_seed)
    test = sub.add_parser("test", help="the whole suite: ruff, migrations check, compilemessages, pytest")
    test.add_argument("pytest_args", nargs="*", help="passed to pytest as they are")
    test.set_defaults(func=cmd_test)
    bench = sub.add_parser("bench", help="run bench/bench_*.py against the prm_bench database")
    bench.add_argument("names", nargs="*")
    bench.set_defaults(func=cmd_bench)
    pg = sub.add_parser("pg", help="the embedded Postgres in $PRM_VAR_DIR/pg")
    pg.add_argument("action", choices=["start", "stop", "status"])
    pg.set_defaults(func=cmd_pg)
    supervise = sub.add_parser("supervise", help="run NAME=COMMAND processes together")
    supervise.add_argument("--grace", type=float, default=None, help="seconds before SIGKILL")
    supervise.add_argument("procs", nargs="+")
    supervise.set_defaults(func=cmd_supervise)

    argv = sys.argv[1:] if argv is None else argv
    # Everything after `test` goes to pytest untouched (options with values included).
    is_test = argv[:1] == ["test"]
    args = argparse.Namespace(func=cmd_test, pytest_args=argv[1:]) if is_test else parser.parse_args(argv)
    try:
        return args.func(args)
    except PrmctlError as exc:
        print(f"prmctl: error: {exc}", file=sys.stderr, flush=True)
        return 2
    except subprocess.CalledProcessError as exc:
        print(
            f"prmctl: error: `{shlex.join(map(str, exc.cmd))}` failed with exit code {exc.returncode}", file=sys.stderr
        )
        return exc.returncode or 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
