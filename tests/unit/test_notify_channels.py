"""The channels of a notice: a webhook against a real server on 127.0.0.1, `notify-send`
as a fake executable on PATH, the terminal's bell and OSC bytes; and the settings."""

from __future__ import annotations

import json
import logging
import re
import stat
import sys
import time
from pathlib import Path

import pytest

from oneie_tui.events import EventBus, EventType
from oneie_tui.notify.channels import NotifySend, TerminalChannel, Webhook, default_channels
from oneie_tui.notify.detector import Notice
from oneie_tui.notify.notifier import Notifier
from oneie_tui.notify.settings import NotifySettings, config_table, resolve
from oneie_tui.notify.terminal import osc_flavor, osc_sequence, terminal_bytes
from oneie_tui.spec.model import NotifyTable
from oneie_tui.trust.webhook_url import check_webhook_url
from tests.fakes.webhook_server import webhook_server

HOSTILE = "done\x1b]9;owned\x07\x1b]777;notify;x;y\x1b\\\x9c\x1b[2J\u202e;\r\nrm -rf"
FINISHED = Notice("finished", "r1", "oneie: run completed", "Squad (run r1)", "completed", ("a",))


def fake_notify_send(tmp_path: Path) -> tuple[Path, Path]:
    """A `notify-send` that writes its argv as one JSON line to a file."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    record = tmp_path / "argv.jsonl"
    exe = bin_dir / "notify-send"
    exe.write_text(
        f"#!{sys.executable}\nimport json, sys\n"
        f"open({str(record)!r}, 'a').write(json.dumps(sys.argv[1:]) + '\\n')\n",
        encoding="utf-8",
    )
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    return bin_dir, record


# --- the webhook ----------------------------------------------------------------


def test_webhook_posts_the_documented_json() -> None:
    with webhook_server() as hook:
        Webhook(hook.url).deliver(FINISHED)
        (post,) = hook.wait(1)
    assert post.path == "/hook/abc"
    assert post.content_type == "application/json"
    assert post.body == {
        "run": "r1", "kind": "finished", "outcome": "completed", "title": "oneie: run completed",
        "text": "Squad (run r1)", "agents": ["a"], "link": "oneie://run/r1",
    }
    served = Webhook("https://h.example.com/x", "https://oneie.example.org/")
    assert served.payload(FINISHED)["link"] == "https://oneie.example.org/watch/r1"


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_a_slow_or_failing_webhook_never_holds_up_the_feed_and_is_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    for mode in ("slow", "fail"):
        with webhook_server(mode, delay=2.0) as hook:
            caplog.clear()
            settings = NotifySettings(quiet_seconds=0.0)
            notifier = Notifier(settings, [Webhook(hook.url, timeout=0.3)], gather_seconds=0)
            bus = EventBus("r1", time.time)
            notifier.attach(bus)
            # the app's file logging turns propagation off on "oneie": listen on the logger
            # itself, with a handler of our own (caplog's also sees what propagates: twice)
            logger = logging.getLogger("oneie.notify")
            heard = _Records()
            logger.addHandler(heard)
            with caplog.at_level(logging.DEBUG, logger="oneie.notify"):
                begin = time.monotonic()
                bus.publish(EventType.RUN_STARTED, metadata={"agents": ["a"]})
                for i in range(3):  # three notices: a need, another agent's, the end
                    bus.publish(EventType.AGENT_ATTENTION, f"a{i}", metadata={"reason": "question"})
                bus.publish(EventType.RUN_FINISHED, metadata={"outcome": "completed"})
                assert time.monotonic() - begin < 0.2  # the run's path never waits on the hook
                notifier.close(timeout=5.0)
            logger.removeHandler(heard)
            assert len(hook.posts) == 4, mode
            assert notifier.failures("webhook") == 4
            warnings = [r for r in heard.records if r.levelno == logging.WARNING]
            assert len(warnings) == 1 and "webhook failed" in warnings[0].getMessage()


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://example.com/hook", "must be https://"),
        ("ftp://127.0.0.1/x", "https://host/path"),
        ("https://user:pw@example.com/x", "user or password"),
        ("https://exa mple.com/x", "spaces or control"),
        ("https://example.com/\x1b]9;x", "spaces or control"),
        ("https:///nohost", "https://host/path"),
        ("https://example.com:99999/x", "not a URL"),
    ],
)
def test_webhook_urls_are_https_or_loopback_http(url: str, problem: str) -> None:
    with pytest.raises(ValueError, match=re.escape(problem)):
        check_webhook_url(url)


@pytest.mark.parametrize("url", ["https://hooks.example.com/x?a=1", "http://127.0.0.1:8080/h", "http://[::1]/h", "http://localhost/h"])
def test_good_webhook_urls_pass(url: str) -> None:
    assert check_webhook_url(url) == url


# --- notify-send ----------------------------------------------------------------


def test_notify_send_gets_an_argument_list_without_control_characters(tmp_path: Path) -> None:
    bin_dir, record = fake_notify_send(tmp_path)
    env = {"PATH": str(bin_dir), "TERM": "dumb"}
    settings = NotifySettings(quiet_seconds=0.0)
    channels = default_channels(settings, terminal_write=None, env=env)
    assert [c.name for c in channels] == ["notify-send"]
    notifier = Notifier(settings, channels, gather_seconds=0)
    bus = EventBus("r1", time.time)
    notifier.attach(bus)
    bus.publish(EventType.RUN_STARTED, metadata={"agents": ["-a"], "spec": "--help"})
    bus.publish(EventType.AGENT_ATTENTION, "-a", metadata={"reason": "question", "text": HOSTILE})
    notifier.close(timeout=10)
    (argv,) = [json.loads(line) for line in record.read_text(encoding="utf-8").splitlines()]
    assert argv[:3] == ["--app-name=oneie", "--urgency=critical", "--"]  # `--`: a title is never an option
    title, body = argv[3:]
    assert title == "oneie: -a needs you"
    for text in (title, body):
        assert text.isprintable()
        assert not set(text) & {"\x1b", "\x07", "\x9c", "\r", "\n", "\u202e"}
    assert "^[]9;owned^G" in body  # the hostile bytes are shown, inert


def test_no_notify_send_on_path_means_no_such_channel(tmp_path: Path) -> None:
    assert default_channels(NotifySettings(), terminal_write=None, env={"PATH": str(tmp_path)}) == []


def test_a_hung_notify_send_is_killed_after_its_timeout(tmp_path: Path) -> None:
    exe = tmp_path / "notify-send"
    exe.write_text(f"#!{sys.executable}\nimport time\ntime.sleep(30)\n", encoding="utf-8")
    exe.chmod(0o755)
    begin = time.monotonic()
    with pytest.raises(Exception, match="timed out"):
        NotifySend(str(exe), timeout=0.5).deliver(FINISHED)
    assert time.monotonic() - begin < 10


# --- the terminal: bell and OSC -------------------------------------------------


@pytest.mark.parametrize(
    ("env", "flavor"),
    [
        ({"TERM_PROGRAM": "iTerm.app"}, "osc9"),
        ({"TERM_PROGRAM": "WezTerm"}, "osc9"),
        ({"TERM": "xterm-kitty"}, "osc9"),
        ({"TERM": "foot"}, "osc9"),
        ({"TERM": "xterm-ghostty"}, "osc9"),
        ({"TERM": "rxvt-unicode-256color"}, "osc777"),
        ({"TERM": "xterm-256color", "VTE_VERSION": "7600"}, "osc777"),
        ({"TERM": "xterm-256color"}, None),
        ({"TERM_PROGRAM": "WezTerm", "TMUX": "/tmp/tmux-1/default,1,0"}, None),
    ],
)
def test_the_osc_flavor_comes_from_the_terminal(env: dict[str, str], flavor: str | None) -> None:
    assert osc_flavor(env) == flavor


OSC = re.compile(r"\x1b\](9|777);([^\x07\x1b]*)\x07")


@pytest.mark.parametrize("flavor", ["osc9", "osc777"])
def test_a_hostile_attention_text_cannot_break_out_of_the_osc(flavor: str) -> None:
    written: list[str] = []
    notifier = Notifier(NotifySettings(quiet_seconds=0.0), [TerminalChannel(written.append, True, flavor)], gather_seconds=0)  # type: ignore[arg-type]
    bus = EventBus("r1", time.time)
    notifier.attach(bus)
    bus.publish(EventType.RUN_STARTED, metadata={"agents": ["a"], "spec": HOSTILE})
    bus.publish(EventType.AGENT_ATTENTION, "a", metadata={"reason": "question", "text": HOSTILE})
    bus.publish(EventType.RUN_FINISHED, metadata={"outcome": HOSTILE})
    data = "".join(written)
    assert data.count("\x07") == 4  # per notice: the bell and the one terminator
    assert data.count("\x1b") == 2  # exactly the two OSC introducers of oneie's own
    sequences = OSC.findall(data)
    assert len(sequences) == 2 and {s[0] for s in sequences} == {flavor[3:]}
    leftover = OSC.sub("", data).replace("\x07", "")
    assert leftover == ""  # nothing outside the sequences
    if flavor == "osc777":
        for _, payload in sequences:
            assert payload.count(";") == 2  # notify;title;body: no field of agent text added one


def test_terminal_bytes_follow_the_settings() -> None:
    assert terminal_bytes(FINISHED, bell=True, flavor=None) == "\a"
    assert terminal_bytes(FINISHED, bell=False, flavor=None) == ""
    assert terminal_bytes(FINISHED, bell=False, flavor="osc9") == osc_sequence(FINISHED, "osc9")
    assert osc_sequence(FINISHED, "osc9") == "\x1b]9;oneie: run completed: Squad (run r1)\a"


def test_desktop_is_sent_one_way_osc_when_the_terminal_has_it_else_notify_send(tmp_path: Path) -> None:
    bin_dir, _ = fake_notify_send(tmp_path)
    settings = NotifySettings()
    names = [c.name for c in default_channels(settings, terminal_write=print, env={"PATH": str(bin_dir), "TERM": "foot"})]
    assert names == ["terminal"]
    names = [c.name for c in default_channels(settings, terminal_write=print, env={"PATH": str(bin_dir), "TERM": "xterm"})]
    assert names == ["terminal", "notify-send"]
    off = NotifySettings(bell=False, desktop="off", webhook="https://example.com/h")
    assert [c.name for c in default_channels(off, terminal_write=print, env={"PATH": str(bin_dir)})] == ["webhook"]
    assert default_channels(NotifySettings(on=False), terminal_write=print, env={"PATH": str(bin_dir)}) == []


# --- settings -------------------------------------------------------------------


def test_the_spec_overrides_the_config_key_by_key() -> None:
    config = NotifyTable(quiet_seconds=5.0, webhook="https://example.com/h", bell=False)
    spec = NotifyTable(bell=True, events=["finished"])
    s = resolve(config, spec)
    assert (s.on, s.bell, s.quiet_seconds, s.webhook, s.kinds) == (True, True, 5.0, "https://example.com/h", frozenset({"finished"}))
    assert resolve(config, NotifyTable(enabled=False)).on is False
    assert resolve(NotifyTable(), NotifyTable(desktop=False)).desktop == "off"
    # a spec dumped and validated again has every key set, to None: that overrides nothing
    round_trip = NotifyTable.model_validate(NotifyTable().model_dump())
    assert round_trip.model_fields_set == set(NotifyTable.model_fields)
    assert resolve(config, round_trip).quiet_seconds == 5.0


def test_headless_is_off_unless_asked() -> None:
    assert resolve(NotifyTable(), NotifyTable(), headless=True).on is False
    assert resolve(NotifyTable(), NotifyTable(), headless=True, asked=True).on is True
    assert resolve(NotifyTable(headless=True), NotifyTable(), headless=True).on is True
    assert resolve(NotifyTable(headless=True), NotifyTable(headless=False), headless=True).on is False


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ({"quiet_seconds": float("nan")}, "[notify] quiet_seconds: Input should be a finite number"),
        ({"quiet_seconds": -1}, "[notify] quiet_seconds: Input should be greater than or equal to 0"),
        ({"quiet_seconds": 1e9}, "[notify] quiet_seconds: Input should be less than or equal to 86400"),
        ({"webhook": "http://example.com/x"}, "[notify] webhook: webhook URL must be https://"),
        ({"events": ["finish"]}, "[notify] events.0: Input should be 'finished', 'attention' or 'stalled'"),
        ({"bel": True}, "[notify] bel: unknown key (known: enabled, headless, bell"),
    ],
)
def test_a_bad_config_key_is_one_line_naming_the_file_and_the_key(raw: dict[str, object], problem: str) -> None:
    table, message = config_table(raw, Path("/home/u/.config/oneie/config.toml"))
    assert table == NotifyTable()
    assert message is not None and message.startswith("/home/u/.config/oneie/config.toml: ")
    assert problem in message and "\n" not in message


def test_a_bad_spec_key_is_a_spec_error_with_its_line(tmp_path: Path) -> None:
    from oneie_tui.spec.loader import SpecError, load_spec

    path = tmp_path / "s.toml"
    path.write_text('[feature]\nname = "x"\n\n[notify]\nquiet_seconds = inf\n\n[[agents]]\nid = "a"\n', encoding="utf-8")
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    assert str(caught.value).startswith(f"{path}:5")
    assert "notify.quiet_seconds" in str(caught.value)


def test_the_user_config_keeps_its_notify_table_for_the_checks(tmp_path: Path) -> None:
    from oneie_tui.config import load_config

    path = tmp_path / "config.toml"
    path.write_text('[notify]\nquiet_seconds = 5\nwebhook = "https://example.com/h"\n', encoding="utf-8")
    config, problems = load_config(path)
    assert problems == []
    table, problem = config_table(config.notify, config.path)
    assert problem is None
    assert resolve(table, NotifyTable()).quiet_seconds == 5.0
    path.write_text('notify = 3\n', encoding="utf-8")
    config, problems = load_config(path)
    assert problems == [f"{path}: [notify]: expected a table"] and config.notify == {}
