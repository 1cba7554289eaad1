"""What only the PostgreSQL engine has: the schema version table, passwords kept out of
everything shown, heartbeats across hosts, notifications, and many writers at once."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import psycopg
import pytest

from oneie_tui.cli import main
from oneie_tui.events import Event
from oneie_tui.store import postgres
from oneie_tui.store.base import StoreError
from oneie_tui.store.open import open_store
from oneie_tui.store.postgres import SCHEMA_VERSION, PostgresStore
from tests.fakes.pg_server import PgServer

_n = iter(range(1, 1_000_000))


@pytest.fixture
def url(pg_server: PgServer, monkeypatch: pytest.MonkeyPatch) -> str:
    target = pg_server.create_database(f"pg{os.getpid()}_{next(_n)}")
    monkeypatch.setenv("ONEIE_STORE", target)
    return target


def _sql(url: str, sql: str, *args: object) -> list[tuple[object, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(sql, args or None)
        return cur.fetchall() if cur.description else []


def test_the_schema_is_created_once_and_versioned(url: str) -> None:
    PostgresStore(url).close()
    PostgresStore(url).close()  # a second open applies nothing again
    assert _sql(url, "SELECT version FROM oneie_schema_version ORDER BY version") == [
        (v,) for v in range(1, SCHEMA_VERSION + 1)
    ]


def test_a_newer_schema_is_refused_with_one_line(url: str) -> None:
    PostgresStore(url).close()
    _sql(url, "INSERT INTO oneie_schema_version (version) VALUES (%s)", SCHEMA_VERSION + 7)
    with pytest.raises(StoreError, match=f"version {SCHEMA_VERSION + 7}; this oneie knows up to"):
        PostgresStore(url)


def test_the_password_never_shows(url: str, pg_server: PgServer, capsys: pytest.CaptureFixture[str]) -> None:
    store = PostgresStore(url)
    assert pg_server.password not in str(store.path)
    assert "***" in str(store.path)
    store.create_run("r1", "Spec", "", None, 1.0)
    assert main(["runs"]) == 0
    wrong_db = url.rsplit("/", 1)[0] + "/missing"
    assert main(["runs", "--store", wrong_db]) == 1
    wrong_pw = url.replace(pg_server.password, pg_server.password[::-1])
    assert main(["show", "r1", "--store", wrong_pw]) == 1
    out, err = capsys.readouterr()
    assert "r1" in out and "runs in postgresql://oneie:***@" in out
    assert 'database "missing" does not exist' in err
    assert "password authentication failed" in err
    assert pg_server.password not in out + err
    assert pg_server.password[::-1] not in out + err
    assert "Traceback" not in err


def test_a_url_store_never_becomes_a_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("ONEIE_STORE", "mysql://u:hunter2pw@db/x")
    assert main(["runs"]) == 1
    err = capsys.readouterr().err
    assert err.strip() == (
        "oneie: cannot open the run store at mysql://u:***@db/x: give a file path or a postgresql:// URL"
    )
    assert list(cwd.iterdir()) == []


def test_interrupted_across_hosts_by_heartbeat(url: str) -> None:
    store = PostgresStore(url)
    store.create_run("fresh", "x", "", None, 1.0)
    store.create_run("stale", "x", "", None, 2.0)
    _sql(url, "UPDATE runs SET host='another-machine', pid=1")  # pid 1 lives here: host decides
    _sql(url, "UPDATE runs SET heartbeat = now() - interval '1 minute' WHERE id='stale'")
    assert store.get_run("fresh").status == "running"
    assert store.get_run("stale").status == "interrupted"
    assert {r.id: r.status for r in store.list_listings()} == {"fresh": "running", "stale": "interrupted"}
    with pytest.raises(StoreError, match="live on another-machine"):
        store.mark_running("fresh")  # two writers on one run would collide on seq
    store.mark_running("stale")  # its machine went away: this process takes it over
    assert store.get_run("stale").status == "running"
    assert store.get_run("stale").host == os.uname().nodename


def test_the_writer_beats_while_the_run_is_quiet(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(postgres, "HEARTBEAT", 0.1)
    store = PostgresStore(url)
    store.create_run("r", "x", "", None, 1.0)
    _sql(url, "UPDATE runs SET heartbeat = now() - interval '1 hour'")
    assert store.get_run("r").status == "interrupted"
    writer = store.writer()
    writer.put(Event(1, "r", 1.0, "run_started", "run"))
    deadline = time.monotonic() + 10
    while store.get_run("r").status != "running" and time.monotonic() < deadline:
        time.sleep(0.05)
    writer.close()
    assert store.get_run("r").status == "running"


def test_the_follower_hears_its_run_and_catches_up_after_a_lost_connection(url: str) -> None:
    store = PostgresStore(url)
    follower = store.follow("watched")
    assert follower.wait(1.0)  # the first wait: read what was there before listening
    writer = store.writer()
    writer.put(Event(1, "other", 1.0, "run_started", "run"))
    assert not follower.wait(0.5)  # another run's events wake nobody here
    writer.put(Event(1, "watched", 1.0, "run_started", "run"))
    assert follower.wait(5.0)
    _sql(url, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
              " WHERE query LIKE 'LISTEN%%' AND pid <> pg_backend_pid()")
    assert follower.wait(5.0)  # the lost connection: reconnect and catch up by seq
    writer.put(Event(2, "watched", 2.0, "run_finished", "run"))
    assert follower.wait(5.0)  # listening again after the reconnect
    writer.close()
    follower.close()
    assert [e.seq for e in store.events("watched")] == [1, 2]


def test_runs_from_many_processes_never_collide(url: str) -> None:
    script = textwrap.dedent(
        f"""
        import anyio
        from oneie_tui.store.open import open_store
        from tests.unit.test_runner_kit import agent_toml, sim_runner, spec_of
        spec = spec_of(agent_toml("a", extra="sim = {{ duration = 0.2, lines_per_second = 3000 }}")
                       + agent_toml("b", extra="sim = {{ duration = 0.2, lines_per_second = 3000 }}"))
        runner, _ = sim_runner(spec, store=open_store({url!r}))
        anyio.run(runner.run)
        print(runner.run_id)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    procs = [
        subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=env)
        for _ in range(4)
    ]
    ids = [p.communicate(timeout=120)[0].strip() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert len(set(ids)) == 4
    store = open_store(url)
    for run_id in ids:
        seqs = [e.seq for e in store.events(run_id)]
        assert seqs == list(range(1, len(seqs) + 1)) and len(seqs) > 100
        assert store.get_run(run_id).status == "completed"


def test_import_of_one_run_from_two_sessions_at_once_adds_it_once(url: str) -> None:
    from oneie_tui.store.base import RunRow

    run = RunRow("imp", "x", None, "", 1.0, 2.0, "completed", {}, None, None)
    results: list[str] = []

    def one() -> None:
        try:
            open_store(url).import_run(run, [Event(i, "imp", float(i), "agent_output", "a") for i in range(1, 500)])
            results.append("ok")
        except StoreError as exc:
            results.append(str(exc))

    threads = [threading.Thread(target=one) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results)[0] == "ok" and "already in" in sorted(results)[1]
    assert open_store(url).count_events("imp") == 499
