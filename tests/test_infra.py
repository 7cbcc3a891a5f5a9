"""The machinery around the app: `make run`'s processes (Celery worker and beat on both brokers,
the embedded Postgres, the supervisor and its Ctrl-C), production settings, the health
endpoint, and the files Docker and CI read — Docker cannot run here, so those are parsed.

Tests that start processes are marked `slow`; each cleans up every process it started.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import psutil
import pytest
import yaml

from bench import run as bench_run
from scripts import prmctl
from scripts.embedded_pg import EmbeddedPostgres, choose_port, free_port
from scripts.supervisor import group_members

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


# -- helpers -------------------------------------------------------------------------------------
def wait_for(predicate, timeout: float, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    return predicate()


def tail(path: Path, lines: int = 60) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no output)"


def alive(pids) -> list[int]:
    """The pids among `pids` that are still running (zombies count as gone)."""
    found = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                found.append(pid)
        except psutil.NoSuchProcess:
            continue
    return found


@pytest.fixture
def spawn(tmp_path):
    """Start processes in their own session, output to a log file; kill leftovers on teardown."""
    started: list[subprocess.Popen] = []
    tracked: list[int] = []  # descendants a test saw; they may outlive a supervisor that died

    def _spawn(name: str, argv: list[str], *, env: dict[str, str], cwd: Path = ROOT) -> tuple[subprocess.Popen, Path]:
        log = tmp_path / f"{name}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                argv,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        started.append(proc)
        return proc, log

    _spawn.track = tracked.extend
    yield _spawn
    for proc in started:
        # After a failed test: everything the process started, including what runs in sessions
        # of its own (the supervisor's children), gets a graceful stop, then SIGKILL.
        tree = []
        with contextlib.suppress(psutil.Error):
            tree = [p.pid for p in psutil.Process(proc.pid).children(recursive=True)]
        if proc.poll() is None:
            proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=30)
        for pid in alive([proc.pid, *tree, *tracked, *(p.pid for p in group_members(proc.pid))]):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)


@pytest.fixture
def scratch_dir():
    """A temp dir outside pytest's private (0700) base: the embedded Postgres runs as another
    user when we are root and must be able to reach its data dir."""
    path = Path(tempfile.mkdtemp(prefix="prm-infra-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def app_env(**extra: str) -> dict[str, str]:
    """The environment `make run` gives its processes, minus what pytest's settings added."""
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "DJANGO_SETTINGS_MODULE", "PRM_VAR_DIR"}}
    env.update(DJANGO_SETTINGS_MODULE="prm.settings", DJANGO_DEBUG="1", PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


def stop_gracefully(proc: subprocess.Popen, log: Path, timeout: float = 30) -> None:
    """SIGTERM like the supervisor does; the process and its whole group must be gone in time."""
    proc.terminate()
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{proc.args[:6]} did not stop within {timeout}s on SIGTERM:\n{tail(log)}")
    assert code == 0, f"exit code {code}:\n{tail(log)}"
    leftovers = wait_for(lambda: not group_members(proc.pid), timeout=10)
    assert leftovers, f"processes left in the group of {proc.pid}: {group_members(proc.pid)}"


PROBE_MODULE = '''
"""Test-only Celery entry point: the real app and settings, plus a probe task and a one-second
schedule (the production schedule is untouched: this module is only imported by the test)."""
import os
from pathlib import Path

from prm.celery import app

OUT = Path(os.environ["PROBE_OUT"])


@app.task(name="probe.ping")
def ping(token):
    (OUT / token).write_text(str(os.getpid()))
    return "pong"


app.conf.beat_schedule = {
    "probe-every-second": {
        "task": "probe.ping",
        "schedule": 1.0,
        "args": ["beat"],
        "options": {"queue": os.environ["PROBE_QUEUE"]},
    }
}
'''


# -- (a) + (b): worker and beat over each broker --------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("broker", ["filesystem", "redis"])
def test_worker_and_beat_run_tasks_sent_through_the_broker(broker, tmp_path, spawn, monkeypatch):
    var = tmp_path / "var"
    out = tmp_path / "out"
    probe_dir = tmp_path / "probe"
    for folder in (var, out, probe_dir):
        folder.mkdir()
    (probe_dir / "probe_celery.py").write_text(PROBE_MODULE)
    queue = f"probe-{uuid.uuid4().hex[:12]}"
    env = app_env(
        PRM_VAR_DIR=str(var),
        PROBE_OUT=str(out),
        PROBE_QUEUE=queue,
        PYTHONPATH=os.pathsep.join([str(probe_dir), str(ROOT)]),
    )
    if broker == "redis":
        redis_url = os.environ["REDIS_URL"]  # prm.settings_test sets a default; a real server, never a mock
        assert prmctl.redis_answers(redis_url), f"no Redis answers at {redis_url}: start it or set REDIS_URL"
        env["REDIS_URL"] = redis_url
    else:
        monkeypatch.setenv("PRM_VAR_DIR", str(var))
        prmctl.ensure_broker_dirs()  # what `make run` does before the worker starts
    # Not the repository: the worker must not need (or litter) its working directory.
    cwd = tmp_path / "cwd"
    cwd.mkdir()

    worker, worker_log = spawn(
        "worker",
        [PY, "-m", "celery", "-A", "probe_celery", "worker", "-Q", queue, "-c", "1", "-l", "INFO"]
        + ["--without-gossip", "--without-mingle"],
        env=env,
        cwd=cwd,
    )
    beat, beat_log = spawn("beat", [PY, "-m", "celery", "-A", "probe_celery", "beat", "-l", "INFO"], env=env, cwd=cwd)

    sender = subprocess.run(
        [PY, "-c", f"import probe_celery; probe_celery.ping.apply_async(args=['direct'], queue={queue!r})"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert sender.returncode == 0, sender.stderr

    direct = wait_for(lambda: (out / "direct").exists(), timeout=60)
    assert direct, f"the worker never ran the task sent through {broker}:\n{tail(worker_log)}"
    pool = {child.pid for child in psutil.Process(worker.pid).children(recursive=True)}
    assert int((out / "direct").read_text()) in pool, "the task ran outside the worker's pool"

    dispatched = wait_for(lambda: (out / "beat").exists(), timeout=60)
    assert dispatched, f"beat did not dispatch the schedule:\n{tail(beat_log)}\n--- worker\n{tail(worker_log)}"
    assert list(var.glob("celerybeat-schedule*")), "beat's schedule file is not under PRM_VAR_DIR"

    stop_gracefully(beat, beat_log)
    stop_gracefully(worker, worker_log)
    assert "ERROR" not in worker_log.read_text(), tail(worker_log)


def test_filesystem_broker_keeps_all_its_folders_under_var(tmp_path):
    """Without REDIS_URL every folder of kombu's filesystem transport must be under PRM_VAR_DIR:
    a relative one (kombu's default `control`) lands in whatever directory a process started in,
    so the web process and the worker would not even share it."""
    code = (
        "import json; from django.conf import settings; "
        "print(json.dumps([settings.CELERY_BROKER_URL, settings.CELERY_BROKER_TRANSPORT_OPTIONS]))"
    )
    result = subprocess.run(
        [PY, "-c", f"import django; django.setup(); {code}"],
        cwd=ROOT,
        env=app_env(PRM_VAR_DIR=str(tmp_path)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    url, options = json.loads(result.stdout.strip().splitlines()[-1])
    assert url == "filesystem://"
    for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
        assert key in options, f"{key} is not set in CELERY_BROKER_TRANSPORT_OPTIONS"
        assert Path(options[key]).is_relative_to(tmp_path), f"{key}={options[key]} is outside PRM_VAR_DIR"


# -- (c): the embedded Postgres -------------------------------------------------------------------
@pytest.mark.slow
def test_embedded_postgres_starts_answers_with_pg_trgm_and_stops(scratch_dir):
    pg = EmbeddedPostgres(scratch_dir / "pg")
    try:
        url = pg.start()
        assert pg.started_here and pg.is_running()
        postmaster = pg.pid

        import psycopg2

        conn = psycopg2.connect(url)
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute("SELECT 1")
                assert cur.fetchone() == (1,)
                assert conn.server_version >= 180000
                cur.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
                cur.execute("SELECT similarity('Northwind Systems', 'northwind system')")
                assert cur.fetchone()[0] > 0.5
                # Cyrillic names must case-fold (ILIKE), whatever locales the OS has.
                cur.execute("SELECT 'Балтийский Торговый Дом' ILIKE %s", ["%торговый%"])
                assert cur.fetchone() == (True,)
        finally:
            conn.close()

        # `make run` creates its database when missing.
        prmctl.ensure_database(pg.url("prm_created"))
        psycopg2.connect(pg.url("prm_created")).close()

        again = EmbeddedPostgres(scratch_dir / "pg")
        assert again.start() == url and not again.started_here, "a running server must be reused"
    finally:
        pg.stop()
    assert not pg.is_running()
    assert not alive([postmaster])


def test_embedded_postgres_takes_another_port_when_the_default_is_busy():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        assert choose_port(taken) != taken
    port = free_port()
    assert choose_port(port) == port


# -- (d): the supervisor and make run's Ctrl-C ----------------------------------------------------
STUBBORN = (
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); time.sleep(300)"
)


@pytest.mark.slow
def test_supervisor_stops_every_child_and_grandchild_on_sigint(spawn):
    sup, log = spawn(
        "supervisor",
        [PY, "-m", "scripts.prmctl", "supervise", "--grace", "3"]
        + ["tree=sh -c 'sleep 300 & sleep 300 & wait'", f'stubborn={PY} -c "{STUBBORN}"'],
        env=dict(os.environ),
    )
    assert wait_for(lambda: re.search(r"^stubborn +\| ready", log.read_text(), re.M), timeout=30), tail(log)
    descendants = wait_for(lambda: [p.pid for p in psutil.Process(sup.pid).children(recursive=True)], timeout=5)
    spawn.track(descendants)
    assert len(descendants) >= 4, descendants  # sh, its two sleeps, the stubborn python

    os.killpg(sup.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the foreground group
    assert sup.wait(timeout=30) == 0, tail(log)
    assert alive(descendants) == [], f"left running: {alive(descendants)}\n{tail(log)}"
    assert "stopping all (SIGINT)" in log.read_text()
    assert "ignored SIGTERM" in log.read_text(), "the stubborn child should have needed SIGKILL"


@pytest.mark.slow
def test_make_run_serves_then_ctrl_c_stops_web_worker_beat_and_postgres(spawn, scratch_dir):
    """`make run` end to end, on the embedded Postgres and the filesystem broker (demo data
    left out: that is seed_demo's business)."""
    port = free_port()
    env = app_env(PRM_VAR_DIR=str(scratch_dir / "var"), PORT=str(port))
    env.pop("DATABASE_URL", None)
    run, log = spawn("run", [PY, "-m", "scripts.prmctl", "run", "--skip-seed"], env=env)

    def login_page() -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/accounts/login/", timeout=5) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    assert wait_for(login_page, timeout=180, interval=0.5), f"nothing served on {port}:\n{tail(log)}"
    text = log.read_text()
    for name in ("web", "worker", "beat"):
        assert re.search(rf"^{name} +\| started", text, re.M), f"{name} was not started:\n{tail(log)}"
    assert wait_for(lambda: "celery@" in log.read_text() and "ready." in log.read_text(), timeout=60), tail(log)
    descendants = [p.pid for p in psutil.Process(run.pid).children(recursive=True)]
    spawn.track(descendants)
    assert len(descendants) >= 5, descendants  # runserver x2, worker + pool, beat
    postmaster = EmbeddedPostgres(scratch_dir / "var" / "pg").pid
    assert postmaster

    os.killpg(run.pid, signal.SIGINT)
    assert run.wait(timeout=60) == 0, tail(log)
    assert alive(descendants) == [], f"left running: {alive(descendants)}\n{tail(log)}"
    assert alive([postmaster]) == [], "the embedded Postgres was not stopped"
    assert "ignored SIGTERM" not in log.read_text(), "a process had to be killed"
    assert "exited with 'signal" not in log.read_text(), "Celery's pool was not shut down in order"
    assert not login_page()


# -- (e): production settings ---------------------------------------------------------------------
def production_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PRM_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="prm.settings",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(64),
        DJANGO_ALLOWED_HOSTS="prm.example.com",
    )
    env.update(extra)
    return env


def test_check_deploy_is_clean_with_production_variables():
    env = production_env()
    assert len(env["DJANGO_SECRET_KEY"]) >= 50 and "DJANGO_DEBUG" not in env
    result = subprocess.run(
        [PY, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "System check identified no issues (0 silenced)." in output, output
    assert "WARNINGS" not in output


def test_production_settings_refuse_to_start_without_a_secret_key():
    env = production_env()
    del env["DJANGO_SECRET_KEY"]
    result = subprocess.run([PY, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr


# -- the health endpoint --------------------------------------------------------------------------
def test_health_answers_ok_when_the_database_answers(db, rf):
    from prm.health import health

    response = health(rf.get("/healthz/"))
    assert response.status_code == 200
    assert json.loads(response.content) == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_health_answers_503_when_the_database_does_not(db, rf):
    from unittest import mock

    from django.db import OperationalError, connection

    from prm.health import health

    # Patched only around the call: the db fixture's rollback needs a working cursor after it.
    with mock.patch.object(connection, "cursor", side_effect=OperationalError("connection refused")):
        response = health(rf.get("/healthz/"))
    assert response.status_code == 503
    assert json.loads(response.content)["status"] == "error"


def test_health_is_served_at_healthz():
    from django.urls import resolve

    from prm.health import health

    assert resolve("/healthz/").func is health


@pytest.mark.slow
def test_gunicorn_with_production_settings_passes_the_container_health_check(spawn, django_db_setup):
    """The compose web command, production settings and the health-check script together."""
    from django.db import connection

    port = free_port()
    # The test database pytest-django created: the health view only runs SELECT 1 on it.
    env = production_env(
        DATABASE_URL=prmctl.with_database(os.environ["DATABASE_URL"], connection.settings_dict["NAME"])
    )
    web, log = spawn("gunicorn", [PY, "-m", "gunicorn", "prm.wsgi:application", "--bind", f"127.0.0.1:{port}"], env=env)
    url = f"http://127.0.0.1:{port}/healthz/"

    def check() -> subprocess.CompletedProcess:
        return subprocess.run([PY, "scripts/healthcheck.py", url], cwd=ROOT, env=env, capture_output=True, text=True)

    def listening() -> bool:
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", port)) == 0

    assert wait_for(listening, timeout=60), f"gunicorn did not start:\n{tail(log)}"
    assert wait_for(lambda: check().returncode == 0, timeout=10, interval=0.5), f"{check().stderr}\n{tail(log)}"
    # Production redirects plain HTTP: the script passes only because it speaks like the proxy.
    request = urllib.request.Request(url, headers={"Host": "prm.example.com"})
    opener = urllib.request.build_opener(NoRedirect)
    with pytest.raises(urllib.error.HTTPError) as redirect:
        opener.open(request, timeout=5)
    assert redirect.value.code == 301
    assert redirect.value.headers["Location"].startswith("https://prm.example.com/")
    # A host production does not serve makes the check fail.
    wrong_host = subprocess.run(
        [PY, "scripts/healthcheck.py", url], cwd=ROOT, env={**env, "DJANGO_ALLOWED_HOSTS": "other.test"}, check=False
    )
    assert wrong_host.returncode == 1
    web.terminate()
    web.wait(timeout=30)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def test_healthcheck_fails_when_nothing_answers():
    result = subprocess.run(
        [PY, "scripts/healthcheck.py", f"http://127.0.0.1:{free_port()}/healthz/"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert "unhealthy" in result.stderr


# -- prmctl's own logic ---------------------------------------------------------------------------
def test_with_database_and_redact():
    url = "postgres://prm:s3cret@db.internal:5432/prm?sslmode=require"
    assert prmctl.with_database(url, "prm_bench") == "postgres://prm:s3cret@db.internal:5432/prm_bench?sslmode=require"
    assert prmctl.database_name(url) == "prm"
    assert "s3cret" not in prmctl.redact(url)


@pytest.mark.parametrize(
    ("state", "expected_calls", "error"),
    [
        ("False False", [], "seed_demo"),  # no command yet: say so, never pretend
        ("True True", [], None),  # loaded once already
        ("True False", [("seed_demo",)], None),
    ],
)
def test_demo_data_is_loaded_once(monkeypatch, state, expected_calls, error):
    calls = []

    def fake_manage(*args, env, check=True, capture=False):
        if args[0] == "shell":
            return subprocess.CompletedProcess(args, 0, stdout=f"noise\n{state}\n")
        calls.append(args)
        return subprocess.CompletedProcess(args, 0)

    monkeypatch.setattr(prmctl, "manage", fake_manage)
    if error:
        with pytest.raises(prmctl.PrmctlError, match=error):
            prmctl.seed_demo({}, force=False)
    else:
        prmctl.seed_demo({}, force=False)
    assert calls == expected_calls


def test_make_test_stops_with_a_clear_message_without_chromium(monkeypatch, tmp_path):
    monkeypatch.setattr(prmctl, "CHROMIUM", tmp_path / "no-chromium")
    monkeypatch.delenv("SKIP_BROWSER", raising=False)
    with pytest.raises(prmctl.PrmctlError, match="apt-get install -y chromium"):
        prmctl.cmd_test(prmctl.argparse.Namespace(pytest_args=[]))


def test_make_test_stops_with_a_clear_message_without_redis(monkeypatch):
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setattr(prmctl, "LOCAL_REDIS_URL", f"redis://127.0.0.1:{free_port()}/15")
    with pytest.raises(prmctl.PrmctlError, match="start Redis"):
        prmctl.redis_for_tests()
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{free_port()}/15")
    with pytest.raises(prmctl.PrmctlError, match="no Redis answers"):
        prmctl.redis_for_tests()


# -- bench runner ---------------------------------------------------------------------------------
def test_bench_runner_runs_every_module_and_reports_failures(tmp_path, monkeypatch, capsys):
    package = tmp_path / "benchprobe"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "bench_fast.py").write_text("def main():\n    print('fast: 42 ops/s')\n")
    (package / "bench_broken.py").write_text("def main():\n    raise RuntimeError('boom')\n")
    (package / "helpers.py").write_text("raise AssertionError('not a benchmark: must not be imported')\n")
    monkeypatch.syspath_prepend(str(tmp_path))

    names = bench_run.discover(package, "benchprobe")
    assert names == ["benchprobe.bench_broken", "benchprobe.bench_fast"]
    assert bench_run.select(names, ["fast"]) == ["benchprobe.bench_fast"]
    assert bench_run.run(names) == 1
    printed = capsys.readouterr().out
    assert "fast: 42 ops/s" in printed
    assert "RuntimeError: boom" in printed
    assert "1 ran, 1 failed" in printed


def _bench_setup(database: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [PY, "-c", "from bench.run import setup_django; setup_django()"],
        cwd=ROOT,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "prm.settings_test",
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{database}",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_bench_runner_refuses_a_database_that_is_not_a_bench_database():
    result = _bench_setup("prm")
    assert result.returncode != 0
    assert "refusing" in result.stderr
    assert _bench_setup("prm_bench_anything").returncode == 0


# -- the files Docker, CI and people read ---------------------------------------------------------
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def as_text(command) -> str:
    return command if isinstance(command, str) else " ".join(command)


def test_compose_has_every_service_with_its_command():
    services = compose()["services"]
    assert {"postgres", "redis", "migrate", "web", "worker", "beat"} <= set(services)
    assert "gunicorn prm.wsgi" in as_text(services["web"]["command"])
    assert "celery -A prm worker" in as_text(services["worker"]["command"])
    assert "celery -A prm beat" in as_text(services["beat"]["command"])
    assert "manage.py migrate" in as_text(services["migrate"]["command"])
    assert services["migrate"]["restart"] == "no"
    major = int(re.match(r"postgres:(\d+)", services["postgres"]["image"]).group(1))
    assert major >= 16


def test_compose_healthchecks_and_start_order():
    services = compose()["services"]
    assert "pg_isready" in as_text(services["postgres"]["healthcheck"]["test"])
    assert "redis-cli ping" in as_text(services["redis"]["healthcheck"]["test"])
    web_check = as_text(services["web"]["healthcheck"]["test"])
    assert "scripts/healthcheck.py" in web_check and "/healthz/" in web_check
    for name in ("migrate", "web", "worker", "beat"):
        depends = services[name]["depends_on"]
        assert depends["postgres"]["condition"] == "service_healthy", name
        assert depends["redis"]["condition"] == "service_healthy", name
    for name in ("web", "worker", "beat"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully", name


def test_compose_app_services_get_production_configuration():
    services = compose()["services"]
    for name in ("migrate", "web", "worker", "beat"):
        service = services[name]
        environment = service["environment"]
        assert service["env_file"] == ".env", name
        assert (
            environment["DATABASE_URL"].startswith("postgres://") and "@postgres:5432/" in environment["DATABASE_URL"]
        )
        assert environment["REDIS_URL"].startswith("redis://redis:6379/")
        assert "DJANGO_ALLOWED_HOSTS" in environment
        # The secret comes from the env file, never from the compose file itself.
        assert environment.get("DJANGO_SECRET_KEY", "${DJANGO_SECRET_KEY").startswith("${DJANGO_SECRET_KEY")
        assert "DJANGO_DEBUG" not in environment, "production runs without debug"


def test_dockerfile_references_files_that_exist():
    dockerfile = (ROOT / "Dockerfile").read_text()
    instructions = re.sub(r"\\\n", " ", dockerfile)
    copies = [line.split()[1:-1] for line in instructions.splitlines() if line.startswith("COPY ")]
    assert copies
    for sources in copies:
        for source in sources:
            if not source.startswith("--"):
                assert (ROOT / source).exists(), f"COPY {source}: no such file"
    for path in re.findall(r"\b((?:scripts|prm)/[\w/]+\.py|manage\.py|requirements[\w-]*\.txt)", instructions):
        assert (ROOT / path).exists(), f"Dockerfile uses {path}, which does not exist"
    for service in compose()["services"].values():
        for path in re.findall(r"\b(scripts/[\w/]+\.py)", as_text(service.get("healthcheck", {}).get("test", ""))):
            assert (ROOT / path).exists(), path
    cmd = [line for line in instructions.splitlines() if line.startswith("CMD ")][-1]
    assert "gunicorn prm.wsgi" in " ".join(json.loads(cmd.removeprefix("CMD ")))
    assert re.search(r"^gunicorn==", (ROOT / "requirements.txt").read_text(), re.M)
    assert "collectstatic" in dockerfile
    assert re.search(r"^USER (?!root)", dockerfile, re.M), "the app must not run as root"


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="Debian's docker-compose is not installed")
def test_compose_file_is_valid_for_docker_compose(tmp_path):
    """Docker's own parser and schema (`docker-compose config` needs no engine)."""
    shutil.copy(ROOT / "docker-compose.yml", tmp_path / "docker-compose.yml")
    config = ["docker-compose", "config", "-q"]
    missing = subprocess.run(config, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert missing.returncode != 0, "the stack must refuse to start without its .env"
    secret = secrets.token_urlsafe(64)
    (tmp_path / ".env").write_text(f"DJANGO_SECRET_KEY={secret}\nDJANGO_ALLOWED_HOSTS=prm.example.com\n")
    no_password = subprocess.run(config, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert no_password.returncode != 0 and "POSTGRES_PASSWORD" in no_password.stderr
    with (tmp_path / ".env").open("a") as env_file:
        env_file.write("POSTGRES_PASSWORD=pw\n")
    valid = subprocess.run(config, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert valid.returncode == 0, valid.stderr


@pytest.mark.slow
def test_dockerfile_collectstatic_step_works_with_production_settings(tmp_path):
    """The image's build step: whitenoise's manifest storage fails on a missing referenced file."""
    env = production_env(DJANGO_SECRET_KEY="build-only-not-a-secret", DJANGO_STATIC_ROOT=str(tmp_path / "static"))
    result = subprocess.run(
        [PY, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "static" / "staticfiles.json").exists()


def test_dockerignore_keeps_secrets_and_local_state_out_of_the_image():
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".env", ".venv", ".git", "var/"} <= ignored


def settings_variables() -> set[str]:
    text = (ROOT / "prm" / "settings.py").read_text()
    return set(re.findall(r"""(?:os\.environ\.get|env_bool|env_list)\(\s*["'](\w+)["']""", text))


def test_readme_starts_with_the_two_commands_and_documents_every_variable():
    readme = (ROOT / "README.md").read_text()
    top = "\n".join(readme.splitlines()[:20])
    assert "make run" in top and "make test" in top
    variables = settings_variables()
    assert {"DATABASE_URL", "REDIS_URL", "DJANGO_SECRET_KEY"} <= variables
    missing = sorted(name for name in variables if name not in readme)
    assert not missing, f"README.md does not document: {missing}"
    for email, _ in prmctl.DEMO_LOGINS:
        assert email in readme
    assert prmctl.DEMO_PASSWORD in readme
    assert "docker compose" in readme


def test_ci_runs_the_readme_test_command():
    script = (ROOT / ".ci" / "run").read_text()
    commands = [line.strip() for line in script.splitlines() if line.strip() and not line.strip().startswith("#")]
    assert commands[-1] == "make test"
    assert "set -euo pipefail" in script
    assert "chromium" in script
    assert subprocess.run(["bash", "-n", str(ROOT / ".ci" / "run")], check=False).returncode == 0


@pytest.mark.parametrize("target", ["run", "test", "check", "lint", "fmt", "bench", "seed"])
def test_makefile_has_the_documented_targets(target):
    result = subprocess.run(["make", "-n", target], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert "scripts.prmctl" in result.stdout or "ruff" in result.stdout
