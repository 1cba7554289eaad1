"""Claude Code agent files as roles, and the paths they may (not) come from."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from oneie_tui.agents.profiles import (
    ProfileError,
    load_profile,
    parse_profile,
    resolve_profile_path,
)

AGENT_FILE = """---
name: agent-backend
description: Builds schemas, mutations
  and services for every feature
model: sonnet
color: "blue"
tools: Bash, Edit
---

You are the backend specialist.

Always filter by group.
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / ".claude" / "agents").mkdir(parents=True)
    (root / ".claude" / "agents" / "agent-backend.md").write_text(AGENT_FILE, encoding="utf-8")
    return root


def test_front_matter_and_body(project: Path) -> None:
    p = load_profile(".claude/agents/agent-backend.md", project)
    assert (p.name, p.model, p.color) == ("agent-backend", "sonnet", "blue")
    assert p.description == "Builds schemas, mutations and services for every feature"
    assert p.prompt == "You are the backend specialist.\n\nAlways filter by group."
    assert p.extra == {"tools": "Bash, Edit"}
    assert p.path == (project / ".claude/agents/agent-backend.md").resolve()


def test_no_front_matter_is_all_prompt(tmp_path: Path) -> None:
    p = parse_profile("Just a role.\n", tmp_path / "x.md")
    assert p.prompt == "Just a role." and p.name == ""


def test_unterminated_front_matter_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="never ends"):
        parse_profile("---\nname: x\nbody", tmp_path / "x.md")


def test_absolute_path_inside_the_project_is_fine(project: Path) -> None:
    inside = project / ".claude" / "agents" / "agent-backend.md"
    assert load_profile(str(inside), project).name == "agent-backend"


@pytest.mark.parametrize(
    "written",
    [
        "../outside.md",
        ".claude/../../outside.md",
        "/etc/passwd",
    ],
)
def test_paths_leaving_the_project_are_refused(project: Path, written: str) -> None:
    (project.parent / "outside.md").write_text("---\nname: x\n---\nleak", encoding="utf-8")
    with pytest.raises(ProfileError, match="outside the project folder"):
        resolve_profile_path(written, project)


def test_a_sibling_sharing_the_name_prefix_is_outside(project: Path) -> None:
    sibling = project.parent / (project.name + "-evil")
    sibling.mkdir()
    (sibling / "a.md").write_text("x", encoding="utf-8")
    with pytest.raises(ProfileError, match="outside the project folder"):
        resolve_profile_path(str(sibling / "a.md"), project)
    with pytest.raises(ProfileError, match="outside the project folder"):
        resolve_profile_path(f"../{sibling.name}/a.md", project)


def test_a_symlink_pointing_outside_is_refused_before_opening(project: Path) -> None:
    secret = project.parent / "secret.md"
    secret.write_text("---\nname: x\n---\nsecret", encoding="utf-8")
    link = project / ".claude" / "agents" / "link.md"
    os.symlink(secret, link)
    with pytest.raises(ProfileError, match="resolves to .*outside the project folder"):
        load_profile(".claude/agents/link.md", project)
    # A symlinked folder too.
    os.symlink(project.parent, project / "up")
    with pytest.raises(ProfileError, match="outside the project folder"):
        load_profile("up/secret.md", project)


def test_missing_binary_and_huge_files_are_clear_errors(project: Path) -> None:
    with pytest.raises(ProfileError, match="no such file"):
        load_profile(".claude/agents/nope.md", project)
    bad = project / "bad.md"
    bad.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ProfileError, match="not UTF-8"):
        load_profile("bad.md", project)
    big = project / "big.md"
    big.write_text("x" * (300 * 1024), encoding="utf-8")
    with pytest.raises(ProfileError, match="limit"):
        load_profile("big.md", project)
    with pytest.raises(ProfileError, match="not a file path"):
        load_profile("", project)
