"""Claude Code agent files (`.claude/agents/NAME.md`) as agent roles.

```markdown
---
name: agent-backend
description: Builds schemas, mutations and services
model: sonnet
color: blue
---
You are the backend specialist. ...
```

The front matter gives name, description, model and color; the body is the role prompt.
A profile path is resolved against the project folder (the current directory unless the
caller says otherwise) and must stay inside it: `../x`, absolute paths elsewhere, a
sibling folder sharing the project's name as a prefix, and symlinks pointing outside are
all refused before the file is opened.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from oneie_tui.trust.bounded_read import TooLarge, read_bounded

if TYPE_CHECKING:
    from oneie_tui.spec.model import Spec

MAX_PROFILE_BYTES = 256 * 1024
KNOWN_KEYS = ("name", "description", "model", "color")


class ProfileError(Exception):
    """A profile cannot be used. One line naming the file."""


@dataclass
class Profile:
    path: Path
    prompt: str
    name: str = ""
    description: str = ""
    model: str = ""
    color: str = ""
    extra: dict[str, str] = field(default_factory=dict)  # tools, etc.: kept, not used

    @property
    def chosen_model(self) -> str | None:
        """The model the profile asks for; None when it leaves it to the run (`inherit`)."""
        return self.model if self.model not in ("", "inherit") else None


def resolve_profile_path(profile: str, project_dir: str | os.PathLike[str] | None = None) -> Path:
    """The real path of `profile`, refused unless it lies inside the project folder.

    Checked on the resolved path (symlinks followed) *and* on the path as written, so a
    link inside the project pointing out is refused just like `../x`."""
    if not profile or "\x00" in profile:
        raise ProfileError(f"profile {profile!r}: not a file path")
    root = Path(project_dir if project_dir is not None else os.getcwd()).resolve()
    written = Path(profile).expanduser()
    candidate = written if written.is_absolute() else root / written
    lexical = Path(os.path.normpath(candidate))
    # is_relative_to compares whole components: /proj-evil is not inside /proj.
    if not lexical.is_relative_to(root):
        raise ProfileError(f"profile {profile!r}: outside the project folder {root}")
    real = candidate.resolve()
    if not real.is_relative_to(root):
        raise ProfileError(
            f"profile {profile!r}: resolves to {real}, outside the project folder {root}"
        )
    return real


def parse_profile(text: str, path: Path) -> Profile:
    """Front matter (`---` … `---`, simple `key: value` lines) and body."""
    lines = text.lstrip("\ufeff").splitlines()
    meta: dict[str, str] = {}
    body_start = 0
    if lines and lines[0].strip() == "---":
        end = next((i for i in range(1, len(lines)) if lines[i].strip() == "---"), None)
        if end is None:
            raise ProfileError(f"{path}: front matter starts with '---' but never ends")
        key = ""
        for n, line in enumerate(lines[1:end], start=2):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            if line[:1].isspace() and key:  # a folded continuation line
                meta[key] = (meta[key] + " " + line.strip()).strip()
                continue
            name, sep, value = line.partition(":")
            if not sep or not name.strip():
                raise ProfileError(f"{path}:{n}: expected 'key: value' in the front matter")
            key = name.strip().lower()
            value = value.strip()
            if value in ("|", ">", "|-", ">-"):
                value = ""
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            meta[key] = value
        body_start = end + 1
    prompt = "\n".join(lines[body_start:]).strip()
    return Profile(
        path=path,
        prompt=prompt,
        name=meta.get("name", ""),
        description=meta.get("description", ""),
        model=meta.get("model", ""),
        color=meta.get("color", ""),
        extra={k: v for k, v in meta.items() if k not in KNOWN_KEYS},
    )


def load_profile(profile: str, project_dir: str | os.PathLike[str] | None = None) -> Profile:
    path = resolve_profile_path(profile, project_dir)
    if not path.is_file():
        raise ProfileError(f"profile {profile!r}: no such file ({path})")
    try:
        text = read_bounded(path, MAX_PROFILE_BYTES).decode("utf-8")  # never trusts st_size
    except TooLarge:
        raise ProfileError(f"{path}: profile is larger than the limit of {MAX_PROFILE_BYTES:,} bytes") from None
    except UnicodeDecodeError:
        raise ProfileError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise ProfileError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return parse_profile(text, path)


def load_agent_profiles(spec: Spec, backend: str, root: Path) -> dict[str, Profile]:
    """The profiles of the spec's agents on `backend`, by agent id. The `ProfileError`
    of one names the agent's place (`agents[2] (agent-x): profile ...`)."""
    out: dict[str, Profile] = {}
    for i, agent in enumerate(spec.agents):
        if agent.profile and spec.backend_of(agent) == backend:
            try:
                out[agent.id] = load_profile(agent.profile, root)
            except ProfileError as exc:
                raise ProfileError(f"agents[{i}] ({agent.id}): {exc}") from None
    return out
