"""`oneie run --headless`: no notices unless asked; with `--notify` (or `[notify] headless =
true`) the webhook gets one POST for the run's end, through a real server on 127.0.0.1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from oneie_tui.paths import config_file
from tests.conftest import SPECS
from tests.fakes.webhook_server import webhook_server
from tests.unit.test_notify_channels import fake_notify_send


def oneie(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "oneie_tui", *args], capture_output=True, text=True, timeout=90,
        env=env, stdin=subprocess.DEVNULL,
    )


def write_config(text: str) -> None:
    path = config_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def run_spec(*extra: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return oneie("run", str(SPECS / "course-crud.toml"), "--headless", "--json", "--speed", "40", *extra, env=env)


def test_headless_sends_nothing_by_default() -> None:
    with webhook_server() as hook:
        write_config(f'[notify]\nwebhook = "{hook.url}"\nquiet_seconds = 0\n')
        done = run_spec()
        assert done.returncode == 0, done.stderr
        assert hook.wait(1, timeout=0.5) == []


def test_notify_flag_sends_one_post_for_the_end_of_the_run(tmp_path: Path) -> None:
    bin_dir, record = fake_notify_send(tmp_path)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    with webhook_server() as hook:
        write_config(f'[notify]\nwebhook = "{hook.url}"\n')
        done = run_spec("--notify", env=env)
        assert done.returncode == 0, done.stderr
        posts = hook.wait(1)
    summary = json.loads(done.stdout.splitlines()[-1])
    (post,) = posts  # one run-level change, whatever number of events the run had
    assert post.body["kind"] == "finished"
    assert post.body["run"] == summary["run_id"]
    assert post.body["outcome"] == "completed"
    assert post.body["link"] == f"oneie://run/{summary['run_id']}"
    (argv,) = [json.loads(line) for line in record.read_text(encoding="utf-8").splitlines()]
    assert argv[3] == "oneie: run completed"
    assert "\a" not in done.stdout and "\x1b]" not in done.stdout  # stdout stays NDJSON


def test_a_failing_webhook_does_not_change_the_run() -> None:
    with webhook_server("fail") as hook:
        write_config(f'[notify]\nheadless = true\nwebhook = "{hook.url}"\n')
        done = run_spec()
        assert len(hook.wait(1)) == 1  # `headless = true` asked for it
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1])["status"] == "completed"


def test_a_bad_config_table_is_one_warning_line_and_the_run_goes_on() -> None:
    write_config('[notify]\nquiet_seconds = -3\n')
    done = run_spec("--notify", env={**os.environ, "PATH": os.path.dirname(sys.executable)})
    assert done.returncode == 0, done.stderr
    warning = [line for line in done.stderr.splitlines() if "[notify]" in line]
    assert len(warning) == 1
    assert f"{config_file()}: [notify] quiet_seconds:" in warning[0]
