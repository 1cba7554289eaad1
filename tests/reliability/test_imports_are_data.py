"""Imports are data, never commands (issue 12, item 3). Real run files, the real CLI."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.helpers import PYTHON, no_traceback, oneie

ROOT = Path(__file__).resolve().parents[2]
RUN_ID = "20261201-120000-abcdef"


def _header(**over: Any) -> dict[str, Any]:
    header: dict[str, Any] = {
        "record": "run", "format": "oneie-run/1", "id": RUN_ID, "spec_name": "imported",
        "spec_path": None, "spec_text": '[feature]\nname = "x"\n[[agents]]\nid = "a"\nrole = "r"\ntask = "t"\n',
        "started": 1_764_590_400.0, "ended": 1_764_590_401.0, "status": "completed",
        "summary": {"wall_s": 1.0, "speedup": 1.0, "cost_usd": 0.0, "input_tokens": 0, "agents": []},
    }
    header.update(over)
    return header


def _events(count: int = 3, **first_md: Any) -> list[dict[str, Any]]:
    kinds = ["run_started", "agent_started", "agent_completed"]
    out = []
    for seq in range(1, count + 1):
        md: dict[str, Any] = {"spec": "x", "agents": ["a"]} if seq == 1 else {}
        out.append({"seq": seq, "run_id": RUN_ID, "ts": 1_764_590_400.0 + seq / 10,
                    "type": kinds[(seq - 1) % 3], "actor": "runner" if seq == 1 else "a",
                    "target": "", "group": "", "metadata": md})
    out[0]["metadata"].update(first_md)
    return out


def _write(path: Path, header: dict[str, Any] | None, events: list[dict[str, Any]]) -> Path:
    lines = ([json.dumps(header)] if header is not None else []) + [json.dumps(e) for e in events]
    path.write_text("\n".join(lines) + "\n")
    return path


def _one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert no_traceback(result.stderr), result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_a_summary_with_text_for_numbers_is_refused_with_file_and_line(tmp_path: Path) -> None:
    bad = _header(summary={"wall_s": "fast", "speedup": "10x", "agents": "many"})
    path = _write(tmp_path / "run.jsonl", bad, _events())
    store = tmp_path / "runs.db"
    result = oneie("import", str(path), "--store", str(store))
    assert result.returncode == 2
    assert _one_line(result) == f"oneie: {path}:1: run record: summary.wall_s: expected a number, got text"
    # Nothing went in, and the store still lists.
    listing = oneie("runs", "--json", "--store", str(store))
    assert listing.returncode == 0 and listing.stdout == ""


HOSTILE: dict[str, tuple[int, str, str]] = {
    # name: (line, the line's text, words the message must hold)
    "started_text": (1, json.dumps(_header(started="yesterday")), "started: expected a number"),
    "ended_nan": (1, json.dumps(_header()).replace('"ended": 1764590401.0', '"ended": NaN'), "NaN"),
    "status_unknown": (1, json.dumps(_header(status="owned")), "status: 'owned' is not one of"),
    "id_control_chars": (1, json.dumps(_header(id="x\u001b[2J")), "id: expected a run id"),
    "agent_cost_negative": (1, json.dumps(_header(summary={"agents": [{"id": "a", "cost_usd": -1}]})),
                            "summary.agents[0].cost_usd: -1 is out of range"),
    "seq_text": (2, json.dumps({**_events()[0], "seq": "1"}), "seq: expected a whole number"),
    "ts_infinite": (2, json.dumps(_events()[0]).replace('"ts": 1764590400.1', '"ts": Infinity'), "Infinity"),
    "percent_text": (2, json.dumps({**_events()[0], "type": "agent_progress", "metadata": {"percent": "x"}}),
                     "metadata.percent: expected a number"),
    "tokens_negative": (2, json.dumps({**_events()[0], "type": "usage", "metadata": {"input_tokens": -5}}),
                        "metadata.input_tokens: -5 is out of range"),
    "actor_number": (2, json.dumps({**_events()[0], "actor": 7}), "actor: expected text"),
    "type_unknown": (2, json.dumps({**_events()[0], "type": "rm_rf"}), "type: 'rm_rf' is not an event type"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_every_stored_value_is_checked_at_import(tmp_path: Path, case: str) -> None:
    line_no, text, words = HOSTILE[case]
    header_line = text if line_no == 1 else json.dumps(_header())
    rest = [json.dumps(e) for e in _events()]
    if line_no == 2:
        rest[0] = text
    path = tmp_path / "run.jsonl"
    path.write_text("\n".join([header_line, *rest]) + "\n")
    result = oneie("import", str(path), "--store", str(tmp_path / "runs.db"))
    assert result.returncode == 2, result.stderr
    line = _one_line(result)
    assert line.startswith(f"oneie: {path}:{line_no}: "), line
    assert words in line, line
    assert "\x1b" not in line


def _damage(store: Path) -> None:
    """Rows as an older oneie's import left them, or a hand edit: wrong types everywhere."""
    conn = sqlite3.connect(store)
    with conn:
        conn.execute(
            "INSERT INTO runs (id, spec_name, spec_path, spec_text, started, ended, status, summary)"
            " VALUES ('bad-summary', 'x', NULL, '', 1.0, 2.0, 'completed', ?)",
            (json.dumps({"wall_s": "fast", "speedup": "10x", "agents": "many", "cost_usd": "free"}),),
        )
        conn.execute(
            "INSERT INTO runs (id, spec_name, spec_path, spec_text, started, ended, status, summary)"
            " VALUES ('bad-json', 'x', NULL, '', 'yesterday', 'later', 'who-knows', '{not json')"
        )
        conn.execute(
            "INSERT INTO events VALUES ('bad-summary', 1, 'soon', 'agent_progress', 'a', '', '',"
            " '{\"percent\": \"lots\"}')"
        )
        conn.execute("INSERT INTO events VALUES ('bad-summary', 2, 2.0, 'agent_output', 'a', '', '', '{oops')")
    conn.close()


def test_views_show_damaged_rows_as_damaged_and_they_can_be_deleted(tmp_path: Path) -> None:
    store = tmp_path / "runs.db"
    done = oneie("run", str(ROOT / "specs/auth-system.toml"), "--json", "--speed", "40", "--store", str(store))
    assert done.returncode == 0, done.stderr
    _damage(store)
    table = oneie("runs", "--store", str(store))
    assert table.returncode == 0 and no_traceback(table.stderr), table.stderr
    rows = {line.split()[0]: line for line in table.stdout.splitlines() if line.startswith(" bad-")}
    assert set(rows) == {"bad-summary", "bad-json"} and all(" damaged " in r for r in rows.values())
    listed = [json.loads(line) for line in oneie("runs", "--json", "--store", str(store)).stdout.splitlines()]
    by_id = {r["id"]: r for r in listed}
    assert by_id["bad-summary"]["status"] == "damaged" and "summary.wall_s" in by_id["bad-summary"]["damaged"]
    assert by_id["bad-json"]["status"] == "damaged"
    assert sum(r["status"] == "completed" for r in listed) == 1
    for ref in ("bad-summary", "bad-json"):
        shown = oneie("show", ref, "--store", str(store))
        assert shown.returncode == 0 and no_traceback(shown.stderr), shown.stderr
        assert "damaged" in shown.stdout
        shown_json = oneie("show", ref, "--json", "--store", str(store))
        assert shown_json.returncode == 0, shown_json.stderr
        exported = oneie("export", ref, "--format", "md", "--store", str(store))
        assert exported.returncode == 0, exported.stderr
    # The history screen's listing (the same reader the dashboard uses).
    code = (
        "import sys; from oneie_tui.store.sqlite import RunStore; "
        f"rows = RunStore({str(store)!r}).list_listings(); "
        "print(sorted((r.id, r.status) for r in rows if r.status == 'damaged'))"
    )
    history = subprocess.run([PYTHON, "-c", code], capture_output=True, text=True, timeout=60)
    assert history.stdout.strip() == "[('bad-json', 'damaged'), ('bad-summary', 'damaged')]", history.stderr
    for ref in ("bad-summary", "bad-json"):
        deleted = oneie("delete", ref, "--store", str(store))
        assert deleted.returncode == 0, deleted.stderr
    after = oneie("runs", "--json", "--store", str(store))
    assert [json.loads(line)["status"] for line in after.stdout.splitlines()] == ["completed"]


def _command_run_file(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A run file whose spec runs a command in a folder the file names, never finished."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    marker = elsewhere / "pwned"
    spec = (
        '[feature]\nname = "imported"\n[run]\nbackend = "command"\n'
        '[[agents]]\nid = "a"\nrole = "r"\ntask = "t"\n'
        f'command = {{ argv = [{json.dumps(sys.executable)}, "-c", "open(\'pwned\', \'w\').write(\'x\')"] }}\n'
    )
    header = _header(spec_text=spec, status="running", ended=None, summary=None)
    events = _events(2, project_dir=str(elsewhere), backend="command")
    events[1]["type"] = "agent_queued"
    events[1]["metadata"] = {"attempt": 1}
    return _write(tmp_path / "run.jsonl", header, events), elsewhere, marker


def test_an_imported_unfinished_run_is_not_resumed_into_its_commands(tmp_path: Path) -> None:
    path, elsewhere, marker = _command_run_file(tmp_path)
    store = tmp_path / "runs.db"
    imported = oneie("import", str(path), "--store", str(store))
    assert imported.returncode == 0, imported.stderr
    listed = json.loads(oneie("runs", "--json", "--store", str(store)).stdout)
    assert listed["imported"] is True and listed["status"] == "interrupted"
    refused = oneie("resume", RUN_ID, "--store", str(store), cwd=tmp_path)
    assert refused.returncode == 1
    assert "imported" in _one_line(refused) and "--run-imported" in refused.stderr
    time.sleep(0.2)
    assert not marker.exists()  # the old code ran the file's command in the file's folder
    assert not (tmp_path / "pwned").exists()


def test_run_imported_shows_every_argv_and_folder_first(tmp_path: Path) -> None:
    path, elsewhere, marker = _command_run_file(tmp_path)
    store = tmp_path / "runs.db"
    assert oneie("import", str(path), "--store", str(store)).returncode == 0
    ran = oneie("resume", RUN_ID, "--run-imported", "--json", "--store", str(store), cwd=tmp_path)
    shown = ran.stderr.split("resuming run")[0]
    assert f"project folder: {elsewhere}" in shown
    assert "a: command [" in shown and "open('pwned'" in shown
    assert marker.exists()  # with the flag, it does what it showed


def test_line_and_total_size_are_capped(tmp_path: Path) -> None:
    store = tmp_path / "runs.db"
    long_line = tmp_path / "long.jsonl"
    header = _header(spec_text="x" * (9 << 20))  # one 9 MiB line
    _write(long_line, header, _events())
    result = oneie("import", str(long_line), "--store", str(store))
    assert result.returncode == 2
    assert f"{long_line}:1: line longer than 8,388,608 bytes" in _one_line(result)
    huge = tmp_path / "huge.jsonl"
    with huge.open("wb") as fh:  # sparse: 1.1 GiB that takes no disk
        fh.truncate(int(1.1 * (1 << 30)))
    result = oneie("import", str(huge), "--store", str(store))
    assert result.returncode == 2
    assert "more than the 1,073,741,824 an import takes" in _one_line(result)
    result = oneie("import", "/dev/zero", "--store", str(store), timeout=30)  # endless, no newline
    assert result.returncode == 2
    assert "/dev/zero:1: line longer than" in _one_line(result)


def test_listings_never_read_spec_text(tmp_path: Path) -> None:
    """A 100 MB spec_text (as an older import could store) does not cost `runs` 100 MB."""
    store = tmp_path / "runs.db"
    assert oneie("runs", "--store", str(store)).returncode == 0  # creates it
    conn = sqlite3.connect(store)
    with conn:
        for i in range(3):  # SQLite builds the text itself: no 100 MB in this process
            conn.execute(
                "INSERT INTO runs (id, spec_name, spec_path, spec_text, started, ended, status, summary)"
                " VALUES (?, 'big', NULL, printf('%.*c', 100000000, 'x'), ?, ?, 'completed', '{}')",
                (f"big-{i}", 1.0 + i, 2.0 + i),
            )
    conn.close()
    code = (
        "import re, sys; from oneie_tui.cli import main; "
        f"code = main(['runs', '--json', '--store', {str(store)!r}]); "
        # VmHWM: this process's own peak (ru_maxrss would carry the forking parent's).
        "sys.stderr.write(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read())[1]); sys.exit(code)"
    )
    result = subprocess.run([PYTHON, "-c", code], capture_output=True, text=True, timeout=120,
                            env={**os.environ})
    assert result.returncode == 0
    peak_mb = int(result.stderr.strip()) / 1024
    assert len(result.stdout.splitlines()) == 3
    assert peak_mb < 100, f"peak RSS {peak_mb:.0f} MB"  # the old listing held 300 MB of spec text


@pytest.mark.anyio
async def test_the_history_screen_lists_damaged_runs_and_deletes_them(tmp_path: Path) -> None:
    from oneie_tui.store.sqlite import RunStore
    from oneie_tui.ui.app import OneieApp
    from oneie_tui.ui.screens.history import HistoryScreen
    from tests.tui.waiting import wait_until

    db = tmp_path / "runs.db"
    RunStore(db).close()
    _damage(db)
    store = RunStore(db)
    app = OneieApp(None, store_path=db, initial_screen_factory=lambda: HistoryScreen(store),
                   clock=lambda: 1_764_590_400.0, cursor_blink=False)
    async with app.run_test(size=(140, 30)) as pilot:
        screen = app.screen
        assert isinstance(screen, HistoryScreen)
        await wait_until(pilot, lambda: len(screen.rows) == 2)
        assert sorted((r.id, r.status) for r in screen.rows) == [("bad-json", "damaged"), ("bad-summary", "damaged")]
        for _ in range(2):
            await pilot.press("d")
            await pilot.press("y")
            await pilot.pause()
        await wait_until(pilot, lambda: not store.list_runs())
        assert store.count_events("bad-summary") == 0
    store.close()
