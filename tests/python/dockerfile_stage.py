"""The runtime (last) stage of the repository's Dockerfile, parsed: what the image Docker builds from
it declares. Used by tests/python/test_metadata.py (labels against metadata.yaml) and by
tests/image/test_image.py (the Dockerfile against the image scripts/oci-image.sh builds).

Understands what the Dockerfile uses: FROM, RUN, COPY, WORKDIR, USER, ENV (KEY=VALUE), exec-form
ENTRYPOINT and LABEL (KEY=VALUE), with backslash continuations and comments. Anything else in the
last stage is an error, so a new instruction is never silently ignored by the comparison.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path

DOCKERFILE = Path(__file__).resolve().parents[2] / "Dockerfile"


@dataclass
class Account:
    """A user or group that a RUN command creates (useradd / groupadd), with its options."""

    name: str
    options: dict[str, str]


@dataclass
class Stage:
    base: str
    user: str | None = None
    workdir: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    entrypoint: list[str] | None = None
    labels: dict[str, str] = field(default_factory=dict)
    copies: list[list[str]] = field(default_factory=list)
    commands: list[list[str]] = field(default_factory=list)  # RUN, split on && into argv lists

    def created(self, program: str) -> dict[str, Account]:
        """The accounts that `useradd` or `groupadd` commands create, by name."""
        out = {}
        for argv in self.commands:
            if argv and argv[0] == program:
                options, names = _options(argv[1:])
                assert len(names) == 1, f"{program} with names {names}: {argv}"
                out[names[0]] = Account(names[0], options)
        return out

    def directory_modes(self) -> dict[str, str]:
        """`mkdir --mode M DIR`: DIR -> M."""
        out = {}
        for argv in self.commands:
            if argv and argv[0] == "mkdir":
                options, paths = _options(argv[1:])
                for p in paths:
                    out[p] = options.get("--mode", "")
        return out

    def owners(self) -> dict[str, str]:
        """`chown OWNER PATH...`: PATH -> OWNER."""
        out = {}
        for argv in self.commands:
            if argv and argv[0] == "chown":
                options, rest = _options(argv[1:])
                assert not options, f"chown options are not understood here: {argv}"
                for p in rest[1:]:
                    out[p] = rest[0]
        return out


# Options of useradd, groupadd and mkdir that take no value.
_FLAGS = {"--no-create-home", "--system", "--create-home", "-M", "-m", "-r", "-p", "--parents"}


def _options(args: list[str]) -> tuple[dict[str, str], list[str]]:
    options: dict[str, str] = {}
    rest: list[str] = []
    i = 0
    while i < len(args):
        a = args[i]
        if a.startswith("-"):
            if "=" in a:
                k, v = a.split("=", 1)
                options[k] = v
            elif a in _FLAGS:
                options[a] = ""
            else:
                options[a] = args[i + 1]
                i += 1
        else:
            rest.append(a)
        i += 1
    return options, rest


def _logical_lines(text: str) -> list[str]:
    lines: list[str] = []
    current = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if current and stripped.startswith("#"):
            continue  # a comment inside a continued instruction
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        current += stripped
        lines.append(current)
        current = ""
    assert not current, "the Dockerfile ends inside a continued line"
    return lines


def _pairs(rest: str, what: str) -> dict[str, str]:
    out = {}
    for token in shlex.split(rest):
        assert "=" in token, f"{what} {rest!r}: only the KEY=VALUE form is understood"
        k, v = token.split("=", 1)
        out[k] = v
    return out


def parse(path: Path = DOCKERFILE) -> Stage:
    """The last stage of the Dockerfile at `path`."""
    stage: Stage | None = None
    for line in _logical_lines(path.read_text()):
        instruction, _, rest = line.partition(" ")
        instruction = instruction.upper()
        rest = rest.strip()
        if instruction == "FROM":
            stage = Stage(base=rest.split()[0])
            continue
        assert stage is not None, f"{instruction} before any FROM"
        if instruction == "RUN":
            stage.commands += [shlex.split(part) for part in rest.split("&&")]
        elif instruction == "COPY":
            stage.copies.append(shlex.split(rest))
        elif instruction == "WORKDIR":
            stage.workdir = rest
        elif instruction == "USER":
            stage.user = rest
        elif instruction == "ENV":
            stage.env.update(_pairs(rest, "ENV"))
        elif instruction == "LABEL":
            stage.labels.update(_pairs(rest, "LABEL"))
        elif instruction == "ENTRYPOINT":
            value = json.loads(rest)  # the exec form; the shell form would run /bin/sh -c
            assert isinstance(value, list) and all(isinstance(v, str) for v in value), rest
            stage.entrypoint = value
        else:
            raise AssertionError(f"Dockerfile instruction {instruction} is not understood by {__file__}")
    assert stage is not None, "no FROM in the Dockerfile"
    return stage
