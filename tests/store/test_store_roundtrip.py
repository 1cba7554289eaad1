"""The run store on both engines (SQLite and a real PostgreSQL server, `any_store`): round
trip, the batching writer, readers beside it, lookups, and a run whose process died
reading back as `interrupted`. SQLite's file handling is tested at the end."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import anyio
import pytest
from hypothesis import given
from hypothesis import strategies as st

from oneie_tui.events import Event
from oneie_tui.store.base import Store, StoreError
from oneie_tui.store.open import open_store
from oneie_tui.store.sqlite import BATCH, RunStore
from tests.unit.test_runner_kit import agent_toml, sim_runner, spec_of


def events_for(run_id: str, n: int) -> list[Event]:
    return [
        Event(i, run_id, 1000.0 + i, "agent_output", "a", "t", "g", {"text": f"line {i}", "n": i, "u": "é"})
        for i in range(1, n + 1)
    ]


def test_round_trip_through_the_writer(any_store: Store) -> None:
    store = any_store
    store.create_run("r1", "Spec", "[feature]\n", "spec.toml", 1000.0)
    writer = store.writer()
    sent = events_for("r1", BATCH * 4 + 7)  # several batches and a remainder
    for e in sent:
        writer.put(e)
    writer.close()
    assert writer.error is None
    assert writer.committed_seq == len(sent)
    assert list(store.events("r1")) == sent
    assert store.count_events("r1") == len(sent)
    assert store.last_seq("r1") == len(sent)
    assert [e.seq for e in store.events("r1", after_seq=10, limit=3)] == [11, 12, 13]
    store.finish_run("r1", 2000.0, "completed", {"speedup": 2.5, "agents": []})
    row = store.get_run("r1")
    assert (row.status, row.ended, row.summary["speedup"], row.spec_path) == ("completed", 2000.0, 2.5, "spec.toml")


def test_a_real_run_is_recorded_completely(any_store: Store) -> None:
    store = any_store
    spec = spec_of(
        agent_toml("a", emits=["a_ready"], extra="sim = { duration = 0.05, lines_per_second = 2000 }")
        + agent_toml("b", after=["a_ready"], extra="sim = { duration = 0.02 }")
    )
    runner, events = sim_runner(spec, store=store, spec_text="text")
    anyio.run(runner.run)
    stored = list(store.events(runner.run_id))
    assert stored == events
    row = store.get_run(runner.run_id)
    assert row.status == "completed"
    assert row.spec_text == "text"
    assert row.summary == events[-1].metadata
    assert row.ended == events[-1].ts


def test_readers_never_wait_for_the_writer(any_store: Store, store_target: str) -> None:
    store = any_store
    store.create_run("r1", "Spec", "", None, 1.0)
    writer = store.writer()
    reader = open_store(store_target)  # another connection, as `oneie runs` in another process
    counts = []
    for e in events_for("r1", 20 * BATCH):
        writer.put(e)
        if e.seq % BATCH == 0:
            counts.append(reader.count_events("r1"))
    writer.close()
    assert counts == sorted(counts)  # it only ever grows, and reading never raised
    assert reader.count_events("r1") == 20 * BATCH


def test_lookups(any_store: Store) -> None:
    store = any_store
    store.create_run("20260101-aaa", "One", "", None, 1.0)
    store.create_run("20260101-aab", "Two", "", None, 2.0)
    store.create_run("20260102_x%", "Three", "", None, 3.0)
    assert store.get_run("last").id == "20260102_x%"
    assert store.get_run("20260101-aaa").spec_name == "One"
    assert store.get_run("20260102").spec_name == "Three"
    with pytest.raises(StoreError, match="ambiguous"):
        store.get_run("20260101-aa")
    with pytest.raises(StoreError, match="no run"):
        store.get_run("zzz")
    with pytest.raises(StoreError, match="no run"):
        store.get_run("2026010_")  # LIKE wildcards are taken literally
    assert [r.id for r in store.list_runs()] == ["20260102_x%", "20260101-aab", "20260101-aaa"]
    assert [r.id for r in store.list_runs(limit=1)] == ["20260102_x%"]
    store.delete_run("20260101-aab")
    assert len(store.list_runs()) == 2


def test_the_store_file_is_private(tmp_path: Path) -> None:
    path = tmp_path / "private" / "runs.sqlite3"
    RunStore(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_an_unusable_path_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="cannot open the run store"):
        RunStore(blocker / "runs.sqlite3")


def test_a_writer_fault_is_reported_not_raised(any_store: Store) -> None:
    store = any_store
    writer = store.writer()
    e = events_for("r1", 1)[0]
    writer.put(e)
    writer.put(e)  # same (run, seq): the primary key refuses it
    writer.close()
    assert writer.error is not None
    assert re.search("UNIQUE|duplicate key", str(writer.error))
    assert store.count_events("r1") == 0  # the batch is all or nothing


def test_a_live_run_is_running_and_a_dead_one_interrupted(any_store: Store, store_target: str) -> None:
    store = any_store
    store.create_run("mine", "Alive", "", None, 1.0)  # this process: alive
    script = textwrap.dedent(
        f"""
        import os, signal
        from oneie_tui.store.open import open_store
        open_store({store_target!r}).create_run("dead", "Killed", "", None, 2.0)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], timeout=60)
    assert done.returncode == -9
    assert store.get_run("mine").status == "running"
    assert store.get_run("dead").status == "interrupted"
    assert [r.id for r in store.list_runs(status="interrupted")] == ["dead"]
    # A finished run never reads as interrupted, whatever became of its process.
    store.finish_run("dead", 3.0, "completed", {})
    assert store.get_run("dead").status == "completed"


def test_env_and_flag_choose_the_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from oneie_tui.paths import store_path

    assert store_path() == Path(os.environ["ONEIE_STORE"])
    assert store_path(tmp_path / "x.db") == tmp_path / "x.db"
    monkeypatch.delenv("ONEIE_STORE")
    assert store_path().name == "runs.sqlite3"
    assert str(store_path()).startswith(os.environ["XDG_DATA_HOME"])


def test_agent_output_is_the_latest_attempt_up_to_a_seq(any_store: Store) -> None:
    store = any_store
    store.create_run("r", "x", "", None, 0.0)
    kinds = [
        ("agent_queued", "a", {"attempt": 1}),
        ("agent_output", "a", {"text": "one\ntwo"}),
        ("agent_output", "b", {"text": "not a's"}),
        ("agent_queued", "a", {"attempt": 1, "slot": True}),  # waits for a slot: same attempt
        ("agent_output", "a", {"text": "three"}),
        ("agent_queued", "a", {"attempt": 2}),  # restarted: a fresh output
        ("agent_output", "a", {"text": "again"}),
        ("agent_output", "a", {"text": ""}),
    ]
    store.insert_events([Event(i + 1, "r", float(i), k, actor, metadata=md) for i, (k, actor, md) in enumerate(kinds)])
    assert store.agent_output("r", "a", up_to_seq=5) == ["one", "two", "three"]
    assert store.agent_output("r", "a", up_to_seq=5, page=1) == ["one", "two", "three"]
    assert store.agent_output("r", "a", up_to_seq=5, after_seq=2) == ["three"]
    assert store.agent_output("r", "a", up_to_seq=8) == ["again", ""]
    assert store.agent_output("r", "b", up_to_seq=8) == ["not a's"]
    assert store.wait_committed("r", 8, timeout=0.1)
    assert not store.wait_committed("r", 9, timeout=0.1)


@given(rows=st.integers(min_value=1, max_value=50_000), most=st.integers(min_value=1, max_value=4000))
def test_chunk_sizes_cover_the_batch_with_few_statement_shapes(rows: int, most: int) -> None:
    from oneie_tui.store.sqlite import chunk_sizes

    sizes = chunk_sizes(rows, most)
    assert sum(sizes) == rows
    assert all(0 < s <= most for s in sizes)
    shapes = {s for s in sizes if s != most}
    assert all(s & (s - 1) == 0 for s in shapes)  # powers of two: a bounded set of statements
    assert len(sizes) <= rows // most + most.bit_length()


def test_a_large_burst_is_stored_whole_and_in_order(any_store: Store) -> None:
    store = any_store
    store.create_run("r1", "x", "", None, 0.0)
    writer = store.writer()
    sent = events_for("r1", 4000 * 3 + 4095)  # full statements, then every smaller shape
    for e in sent:
        writer.put(e)
    writer.close()
    assert writer.error is None
    assert [e.seq for e in store.events("r1")] == [e.seq for e in sent]


@given(text=st.text(), stream=st.text(max_size=8), other=st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=3))
def test_metadata_encoding_round_trips(text: str, stream: str, other: dict[str, str]) -> None:
    import json

    from oneie_tui.store.sqlite import _encode

    line = {"text": text, "stream": stream}  # the fast path
    assert json.loads(_encode(line)) == line
    assert _encode(line) == json.dumps(line, separators=(",", ":"))
    assert json.loads(_encode({**line, **other})) == {**line, **other}  # the generic one
    assert json.loads(_encode({"text": 1, "stream": None})) == {"text": 1, "stream": None}
