"""Untrusted by nature (issue 11): text, numbers, nesting, secrets and events from agents,
specs and stored runs are data. One test group per class; each names the shared place
that fixes the class (see docs/reliability.md, "Hostile input")."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oneie_tui.agents.lineproto import EmitDirective, Invalid, UsageDirective, parse_line
from oneie_tui.cli import main
from oneie_tui.events import Event, EventBus
from oneie_tui.spec.loader import SpecError, load_spec, parse_spec_text
from oneie_tui.store.sqlite import RunStore
from oneie_tui.trust import json_bounds, numbers
from oneie_tui.trust.display import display, safe_text
from oneie_tui.trust.redact import MASK, redact
from oneie_tui.views.run_view import RunView
from tests.fakes.process_tools import PY, loaded, of_type, outputs, run_spec, script

ROOT = Path(__file__).resolve().parents[2]
KEY = "sk-ant-api03-" + "Q" * 40
SPEC = str(ROOT / "specs" / "course-crud.toml")
UNSAFE = {*range(0x00, 0x09), *range(0x0A, 0x20), 0x7F, *range(0x80, 0xA0)}


# --- 1. one display boundary: oneie_tui/trust/display.py ------------------------------------


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"])))
def test_display_never_passes_a_control_character(text: str) -> None:
    shown = display(text)
    assert not {ord(c) for c in shown} & UNSAFE
    kept = display(text, keep_newlines=True)
    assert not {ord(c) for c in kept} & (UNSAFE - {0x0A})
    assert kept.count("\n") == text.count("\n")
    assert display(shown) == shown  # escapes are plain text: showing twice changes nothing


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E) | st.just("\t") | st.just("é")))
def test_display_leaves_ordinary_text_alone(text: str) -> None:
    assert display(text) == text


def test_display_shows_each_sequence_visibly() -> None:
    assert display("\x1b]52;c;SGk=\x07") == "^[]52;c;SGk=^G"
    assert display("a\x00b\x08c\x0ed\x7fe\u009bf") == "a^@b^Hc^Nd^?e\\x9bf"
    assert display("x\ny") == "x^Jy" and display("x\ny", keep_newlines=True) == "x\ny"


def test_the_run_view_fold_is_the_boundary_for_every_surface() -> None:
    view = RunView()
    hostile = "\x1b]0;title\x07\x1b[2J"
    events = [
        Event(1, "r", 1.0, "run_started", metadata={"spec": "spec" + hostile, "agents": ["a"]}),
        Event(2, "r", 1.1, "agent_output", "a", metadata={"text": "out" + hostile + "\nline2\x08"}),
        Event(3, "r", 1.2, "agent_progress", "a", metadata={"percent": 5, "note": "n" + hostile}),
        Event(4, "r", 1.3, "agent_info", "a", metadata={"diff_stat": "d" + hostile}),
        Event(5, "r", 1.4, "agent_failed", "a", metadata={"reason": "r" + hostile}),
        Event(6, "r", 1.5, "agent_started", "b\x1bevil", metadata={}),
        Event(7, "r", 1.6, "run_failed", metadata={"reason": "why" + hostile}),
    ]
    view.apply_all(events)
    shown = [view.spec_name, view.reason, *view.agents, *view.agents["a"].output, view.agents["a"].note,
             view.agents["a"].reason, str(view.agents["a"].extra)]
    shown += [f"{e.actor} {e.type} {e.metadata}" for e in view.timeline]
    for text in shown:
        assert "\x1b" not in text and "\x07" not in text and "\x08" not in text, text
    assert view.agents["a"].output[0] == "out^[]0;title^G^[[2J"


# --- 2. never markup; a display sink never harms the run: events.EventBus -----------------


def test_a_failing_display_sink_is_contained_and_the_store_writer_is_not() -> None:
    bus = EventBus("r", lambda: 0.0)
    seen: list[int] = []

    def display_sink(e: Event) -> None:
        raise ValueError("a sink that cannot show [/usr/lib/x]")

    bus.subscribe(display_sink)
    bus.subscribe(lambda e: seen.append(e.seq))
    bus.publish("agent_output", "a", metadata={"text": "x"})
    bus.publish("agent_output", "a", metadata={"text": "y"})
    assert seen == [1, 2]  # the others still got every event, the publisher saw no error

    def writer(e: Event) -> None:
        raise OSError("disk full")

    bus.subscribe(writer, first=True)  # the store writer: its failure must stop the publish
    with pytest.raises(OSError):
        bus.publish("agent_output", "a", metadata={"text": "z"})


def test_a_markup_like_failure_reason_leaves_the_headless_run_whole(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    failing = script(tmp_path, "fail.py", "import sys\nprint('error in [/usr/lib/x] [bold]', file=sys.stderr)\nsys.exit(1)\n")
    slow = script(tmp_path, "slow.py", "import time\ntime.sleep(0.5)\nprint('done')\n")
    spec = tmp_path / "spec.toml"
    spec.write_text(
        '[feature]\nname = "markup [/] in [bold]names"\n[run]\nbackend = "command"\non_failure = "continue"\n'
        f"[[agents]]\nid = \"agent-fail\"\ncommand = {{ argv = [{PY!r}, {failing!r}] }}\n"
        f"[[agents]]\nid = \"agent-slow\"\ncommand = {{ argv = [{PY!r}, {slow!r}] }}\n"
    )
    store = str(tmp_path / "runs.sqlite3")
    code = main(["run", str(spec), "--headless", "--store", store])
    out = capsys.readouterr().out
    assert code == 1
    assert "error in [/usr/lib/x] [bold]" in out  # shown literally
    row = RunStore(Path(store)).list_runs(limit=1)[0]
    assert row.status == "failed"
    summary = {a["id"]: a["status"] for a in (row.summary or {}).get("agents", [])}
    assert summary == {"agent-fail": "failed", "agent-slow": "completed"}  # the other agent finished
    # `oneie runs` and `oneie show` on a store holding that name.
    assert main(["runs", "--store", store]) == 0
    assert main(["show", "last", "--store", store]) == 0
    assert main(["show", "last", "--gantt", "--width", "100", "--store", store]) == 0
    out = capsys.readouterr().out
    assert "markup [/] in [bold]names" in out


def test_safe_text_is_never_parsed_as_markup() -> None:
    from rich.console import Console

    console = Console(file=io.StringIO(), width=80)
    console.print(safe_text("[/] [bold]x[/bold] \x1b[31m"))
    assert console.file.getvalue().strip() == "[/] [bold]x[/bold] ^[[31m"  # type: ignore[attr-defined]


# --- 3. numbers from outside: oneie_tui/trust/numbers.py --------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        '::oneie usage {"cost_usd": NaN}',
        '::oneie usage {"cost_usd": Infinity}',
        '::oneie usage {"cost_usd": 1e999}',
        '::oneie usage {"cost_usd": -5}',
        '::oneie usage {"input_tokens": -1}',
        '::oneie usage {"input_tokens": 1e30}',
        '::oneie usage {"input_tokens": 10000000000000000}',
        '::oneie usage {"output_tokens": true}',
        "::oneie progress nan",
        "::oneie progress inf",
        "::oneie progress -1",
    ],
)
def test_bad_numbers_on_the_line_protocol_are_ignored_with_a_reason(line: str) -> None:
    assert isinstance(parse_line(line), Invalid)


def test_a_good_usage_line_still_counts() -> None:
    got = parse_line('::oneie usage {"input_tokens": 5, "cost_usd": 0.25}')
    assert isinstance(got, UsageDirective) and got.tokens["input_tokens"] == 5 and got.cost_usd == 0.25


def test_nan_cost_never_switches_a_budget_off(tmp_path: Path) -> None:
    body = script(tmp_path, "spend.py", """
        import time
        print('::oneie usage {"cost_usd": NaN}', flush=True)
        print('::oneie usage {"cost_usd": 1e999}', flush=True)
        print('::oneie usage {"cost_usd": -100}', flush=True)
        print('::oneie usage {"cost_usd": 2.0}', flush=True)
        time.sleep(5)
        """)
    spec = loaded([{"id": "spender", "budget": {"max_cost_usd": 1.0}, "command": {"argv": [PY, body]}}])
    runner, events = run_spec(spec, tmp_path)
    assert runner.agents["spender"].status == "cancelled"
    assert "budget_exceeded" in runner.agents["spender"].reason
    assert [e.metadata["cost_usd"] for e in of_type(events, "usage", "spender")] == [2.0]
    ignored = [line for line in outputs(events, "spender", "stderr") if "[ignored:" in line]
    assert len(ignored) == 3


def test_the_context_gate_refuses_non_finite_usage_from_any_backend(tmp_path: Path) -> None:
    from oneie_tui.agents.base import Usage
    from oneie_tui.agents.budget import BudgetExceeded, check_budget
    from oneie_tui.spec.model import Budget

    with pytest.raises(BudgetExceeded):  # a total that went NaN counts as over, never under
        check_budget(Budget(max_cost_usd=1.0), "agent", Usage(cost_usd=float("nan")), 0, starting_turn=False)
    with pytest.raises(ValueError):
        numbers.cost(float("inf"))


@pytest.mark.parametrize(
    "args",
    [["run", SPEC, "--headless", "--speed", "nan"], ["run", SPEC, "--headless", "--speed", "inf"],
     ["run", SPEC, "--headless", "--speed", "-1"], ["run", SPEC, "--max-parallel", "1e400"],
     ["runs", "--limit", "99999999999999999999"], ["show", "last", "--width", "nan"],
     ["show", "last", "--width", "100000"]],
)
def test_numeric_options_exit_2(args: list[str], capsys: pytest.CaptureFixture[str], isolated_dirs: Path) -> None:
    try:
        code = main(args)
    except SystemExit as exc:  # argparse's usage error
        code = int(exc.code or 0)
    assert code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and args[-2] in err


def test_the_json_summary_is_strict_json(tmp_path: Path) -> None:
    body = script(tmp_path, "u.py", "print('::oneie usage {\"cost_usd\": NaN}')\nprint('::oneie progress nan')\n")
    spec = tmp_path / "spec.toml"
    spec.write_text(f'[feature]\nname = "j"\n[[agents]]\nid = "a"\nbackend = "command"\ncommand = {{ argv = [{PY!r}, {body!r}] }}\n')
    done = subprocess.run(
        [sys.executable, "-m", "oneie_tui", "run", str(spec), "--headless", "--json", "--store", str(tmp_path / "s.db")],
        env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 0, done.stderr

    def refuse(name: str) -> Any:
        raise AssertionError(f"non-strict JSON constant {name}")

    lines = [json.loads(line, parse_constant=refuse) for line in done.stdout.splitlines()]
    assert lines[-1]["type"] == "summary" and lines[-1]["cost_usd"] == 0


def test_an_imported_run_with_nan_times_is_refused(tmp_path: Path) -> None:
    from oneie_tui.store.runfile import RunFileError, import_run

    path = tmp_path / "run.jsonl"
    path.write_text(json.dumps({"seq": 1, "run_id": "r", "ts": 1.0, "type": "run_started"}) + "\n"
                    + '{"seq": 2, "run_id": "r", "ts": NaN, "type": "agent_output", "actor": "a"}\n')
    with pytest.raises(RunFileError, match=":2:"):
        import_run(RunStore(tmp_path / "s.db"), path)


# --- 4. bounds on parsing: json_bounds, check_action, bounded_read ------------------------


def test_deep_nesting_is_refused_before_the_decoder_recurses() -> None:
    deep = "[" * 200_000 + "]" * 200_000
    with pytest.raises(ValueError, match="nested deeper"):
        json_bounds.loads(deep)
    assert json_bounds.loads('{"a": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}')
    assert isinstance(parse_line('::oneie event x_ready {"a":' + "[" * 100_000 + "]" * 100_000 + "}"), Invalid)
    long_name = "a_" + "b" * 200
    assert isinstance(parse_line(f"::oneie event {long_name}"), Invalid)
    assert isinstance(parse_line("::oneie event x_ready {}"), EmitDirective)


def test_a_command_agent_printing_deep_json_keeps_running(tmp_path: Path) -> None:
    body = script(tmp_path, "deep.py", """
        print('::oneie event x_ready {"m": ' + '[' * 100000 + ']' * 100000 + '}', flush=True)
        print('still here', flush=True)
        """)
    spec = loaded([{"id": "deep", "emits": ["x_ready"], "command": {"argv": [PY, body]}}])
    runner, events = run_spec(spec, tmp_path)
    assert runner.agents["deep"].status == "completed"
    assert "still here" in outputs(events, "deep")
    assert any("nested deeper" in line for line in outputs(events, "deep", "stderr"))


def test_stream_json_nesting_is_ignored_with_a_marker() -> None:
    from oneie_tui.agents.claude_code import StreamJson

    said: list[str] = []

    class Ctx:
        def output(self, text: str, stream: str = "stdout") -> None:
            said.append(text)

    StreamJson(Ctx()).feed('{"type": "assistant", "message": ' + "[" * 100_000 + "]" * 100_000 + "}")  # type: ignore[arg-type]
    assert said and "[ignored: JSON nested deeper" in said[0]


def test_the_control_socket_refuses_deep_json() -> None:
    import socket as sk
    from types import SimpleNamespace

    import anyio

    from oneie_tui.engine.control_socket import ControlChannel

    channel = ControlChannel()
    ctx = SimpleNamespace(agent_id="a", run_id="r", undeclared=lambda a: None, emit=None)
    channel.env_for(ctx)  # type: ignore[arg-type]
    runner = SimpleNamespace(agents={"a": SimpleNamespace(ctx=ctx, terminal=False)})
    answers: list[dict[str, Any]] = []

    def talk() -> None:
        with sk.socket(sk.AF_UNIX, sk.SOCK_STREAM) as s:
            s.settimeout(10)
            s.connect(str(channel.path))
            s.sendall(b'{"op": "emit", "metadata": ' + b"[" * 50_000 + b"]" * 50_000 + b"}\n")
            data = b""
            while not data.endswith(b"\n"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        answers.append(json.loads(data))

    async def go() -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(channel.serve, runner)
            await anyio.to_thread.run_sync(talk)
            tg.cancel_scope.cancel()

    anyio.run(go)
    assert answers[0]["ok"] is False and "nested deeper" in answers[0]["error"]


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_spec_reading_stops_at_the_limit_for_devices(device: str) -> None:
    with pytest.raises(SpecError, match="larger than"):
        load_spec(device)


def test_validate_dev_zero_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "/dev/zero"]) == 2
    assert "larger than" in capsys.readouterr().err


def test_a_fifo_without_a_writer_does_not_block(tmp_path: Path) -> None:
    fifo = tmp_path / "spec.toml"
    os.mkfifo(fifo)
    with pytest.raises(SpecError, match="empty"):
        load_spec(fifo)


# --- 5. secrets on every path: redact.py and the AgentContext gate ------------------------


def test_keys_are_found_through_colour_escapes() -> None:
    grep_colored = f"match: sk-\x1b[01;31m\x1b[Kant\x1b[m\x1b[K-api03-{'Z' * 30} tail"
    assert "Z" * 30 not in redact(grep_colored) and MASK in redact(grep_colored)
    split_tail = f"\x1b[01;31m\x1b[Ksk-ant-api03-abc\x1b[m\x1b[K{'Y' * 20} more"
    assert "Y" * 20 not in redact(split_tail)
    assert redact("plain \x1b[31mred\x1b[0m") == "plain \x1b[31mred\x1b[0m"
    # A spec string holding an escape that is not a colour (a title set) is just text.
    spec = parse_spec_text('[feature]\nname = "t\\u001b]0;x\\u0007"\n[[agents]]\nid = "a"\n')
    assert spec.feature.name == "t\x1b]0;x\x07"


@pytest.mark.parametrize(
    "value",
    [r'"sk\u002dant-api03-abcdefghijkl"', '"""sk-ant-\\\n    api03-abcdefghijkl"""', r'"\u0073k-ant-api03-abcdefghijkl"'],
    ids=["unicode-escape", "line-continuation", "first-letter-escaped"],
)
def test_a_key_written_through_toml_escapes_is_refused(value: str) -> None:
    text = f'[feature]\nname = "k"\n[[agents]]\nid = "a"\ntask = {value}\n'
    with pytest.raises(SpecError, match="API key"):
        parse_spec_text(text)


def test_the_control_channel_redacts_emit_and_progress(tmp_path: Path) -> None:
    body = script(tmp_path, "leak.py", f"""
        import subprocess
        subprocess.run(["oneie", "emit", "x_ready", "--json", '{{"k": "{KEY}", "n": {{"deep": "{KEY}"}}}}'], check=True)
        subprocess.run(["oneie", "progress", "50", "note", "{KEY}"], check=True)
        """)
    spec = loaded([{"id": "leaky", "emits": ["x_ready"], "command": {"argv": [PY, body]}}])
    runner, events = run_spec(spec, tmp_path)
    assert runner.agents["leaky"].status == "completed", runner.agents["leaky"].reason
    fired = of_type(events, "task_event", "leaky")
    assert fired and fired[0].metadata["k"] == MASK and fired[0].metadata["n"]["deep"] == MASK
    notes = [e.metadata.get("note") for e in of_type(events, "agent_progress", "leaky")]
    assert notes == [f"note {MASK}"]
    assert KEY not in json.dumps([e.to_dict() for e in events])


def test_an_internal_error_prints_one_masked_line_and_the_log_path(tmp_path: Path, isolated_dirs: Path) -> None:
    code = (
        "import oneie_tui.commands.specs as s\n"
        f"def boom(args):\n    raise RuntimeError('bug with {KEY} inside')\n"
        "s.cmd_validate = boom\n"
        "import sys\nfrom oneie_tui.cli import main\nsys.exit(main(['validate', 'x.toml']))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr and KEY not in done.stderr
    log = done.stderr.rsplit("details in ", 1)[1].strip()
    text = Path(log).read_text()
    assert "Traceback" in text and KEY not in text and MASK in text


# --- 7. agents fire only what they declare: AgentContext.emit ------------------------------


def test_an_undeclared_event_is_ignored_and_starts_nobody(tmp_path: Path) -> None:
    rogue = script(tmp_path, "rogue.py", "print('::oneie event gate_open', flush=True)\n")
    keeper = script(tmp_path, "keeper.py", "import time\ntime.sleep(0.3)\n")
    rogue_emit = script(tmp_path, "rogue2.py", "import subprocess\nsubprocess.run(['oneie', 'emit', 'gate_open'])\n")
    spec = loaded([
        {"id": "rogue", "emits": ["rogue_done"], "command": {"argv": [PY, rogue]}},
        {"id": "rogue-cli", "command": {"argv": [PY, rogue_emit]}},
        {"id": "keeper", "emits": ["gate_open"], "command": {"argv": [PY, keeper]}},
        {"id": "guarded", "after": ["gate_open"], "command": {"argv": [PY, "-c", "print('ran')"]}},
    ], on_failure="continue")
    runner, events = run_spec(spec, tmp_path)
    assert runner.agents["guarded"].status == "blocked"  # only the keeper could open the gate
    assert of_type(events, "agent_started", "guarded") == []
    assert [e.action for e in of_type(events, "task_event", "rogue")] == []
    for who in ("rogue", "rogue-cli"):
        said = outputs(events, who, "stderr")
        assert any("[ignored: event 'gate_open' is not in this agent's emits" in line for line in said), said


# --- 8. theme files are data: themes.py ----------------------------------------------------


@pytest.mark.parametrize(
    "body",
    ['primary = "#fff"\n[variables]\nagent-1 = "red; background: url(x)"',
     'primary = "#fff"\n[variables]\n"x{}" = "red"',
     'primary = "#fff"\nname = "[bold]x"',
     'primary = "not-a-colour"'],
)
def test_bad_theme_values_are_refused(body: str) -> None:
    from oneie_tui.themes import ThemeFileError, parse_theme

    with pytest.raises(ThemeFileError):
        parse_theme(body, "t")


# --- 9. validation does not depend on today's backend: engine/spec_paths.py ---------------


def test_validate_checks_every_path_on_any_backend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    spec = tmp_path / "spec.toml"
    spec.write_text('[feature]\nname = "p"\n[run]\nbackend = "sim"\nworktree_dir = "../elsewhere"\n'
                    '[[agents]]\nid = "a"\nprofile = "../../etc/passwd"\n'
                    '[[agents]]\nid = "b"\nprofile = "missing.md"\ncommand = { cwd = "/etc" }\n')
    assert main(["validate", str(spec)]) == 2
    err = capsys.readouterr().err
    assert "run.worktree_dir" in err and "agents[0] (a): profile" in err and "outside the project" in err
    assert "agents[1] (b): profile 'missing.md'" in err and "agents[1] (b): command.cwd '/etc'" in err
    (tmp_path / "ok.md").write_text("You are careful.\n")
    spec.write_text('[feature]\nname = "p"\n[[agents]]\nid = "a"\nprofile = "ok.md"\n')
    assert main(["validate", str(spec)]) == 0
