"""Checks of tap-stripe's Python package, the way PyPI, pip and uv see it.

Run (scripts/test does all three):
    scripts/wheel-env.sh                          # .venv-wheel: maturin, twine, uv, packaging, pytest (pinned)
    scripts/wheel.sh                              # target/wheel/dist/: the wheel and the sdist
    .venv-wheel/bin/python -m pytest tests/wheel -q

The wheel: its name and tag (py3-none-<a platform this interpreter accepts>), that it holds the
`tap-stripe` executable and nothing else but metadata, `twine check --strict`, and an install into
fresh virtualenvs with pip, with `uv pip` and with `uv tool install`, each followed by
`tap-stripe --version` and `tap-stripe --about --format json`. The sdist: its files, `twine
check`, and a build of the tap from it (cargo, offline, in the wheel's target directory).

Environment: TAP_STRIPE_WHEEL (default: the one wheel in target/wheel/dist/); the sdist is the
`.tar.gz` beside it. Nothing here uses the network: installs are `--no-index`/`--offline`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from packaging.tags import sys_tags
from packaging.utils import parse_wheel_filename

REPO = Path(__file__).resolve().parents[2]
DIST_NAME = "tap-stripe-rs"
EXECUTABLE = "tap-stripe"
CAPABILITIES = {"catalog", "discover", "state", "about", "test", "structured-logging"}
BIN = Path(sys.executable).parent
UV = BIN / "uv"
TWINE = BIN / "twine"


def cargo_version() -> str:
    text = (REPO / "Cargo.toml").read_text()
    package = text[text.index("[package]"):]
    return re.search(r'^version\s*=\s*"([^"]+)"', package, re.M).group(1)


@pytest.fixture(scope="session")
def wheel() -> Path:
    given = os.environ.get("TAP_STRIPE_WHEEL")
    if given:
        path = Path(given)
    else:
        found = sorted((REPO / "target" / "wheel" / "dist").glob("*.whl"))
        if len(found) != 1:
            pytest.fail(f"{len(found)} wheels in target/wheel/dist: build one with scripts/wheel.sh "
                        "(or set TAP_STRIPE_WHEEL)", pytrace=False)
        path = found[0]
    if not path.is_file():
        pytest.fail(f"{path} does not exist: build it with scripts/wheel.sh", pytrace=False)
    return path


@pytest.fixture(scope="session")
def sdist(wheel: Path) -> Path:
    found = sorted(wheel.parent.glob("*.tar.gz"))
    if len(found) != 1:
        pytest.fail(f"{len(found)} sdists beside {wheel}: scripts/wheel.sh builds one", pytrace=False)
    return found[0]


def run(*args, env: dict | None = None, timeout: float = 600, **kw) -> subprocess.CompletedProcess:
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=timeout,
                            env={**os.environ, **(env or {})}, **kw)
    assert result.returncode == 0, (
        f"`{' '.join(map(str, args))}` exited {result.returncode}\n--- stdout ---\n{result.stdout[-3000:]}"
        f"\n--- stderr ---\n{result.stderr[-3000:]}"
    )
    return result


def check_installed_tap(tap: Path) -> None:
    """The installed executable answers --version and --about as the tap does."""
    assert tap.is_file() and os.access(tap, os.X_OK), f"{tap} is missing or not executable"
    version = run(tap, "--version").stdout.strip()
    assert version == f"{EXECUTABLE} {cargo_version()}", version
    about = json.loads(run(tap, "--about", "--format", "json").stdout)
    assert about["name"] == EXECUTABLE and about["version"] == cargo_version(), about
    assert set(about["capabilities"]) == CAPABILITIES, about["capabilities"]
    assert about["settings"] == json.loads((REPO / "spec.json").read_text())


# --------------------------------------------------------------------------------------------
# The wheel's name, tag and contents


def test_wheel_is_a_platform_wheel_this_machine_installs(wheel: Path):
    name, version, _build, tags = parse_wheel_filename(wheel.name)
    assert name == DIST_NAME and str(version) == cargo_version(), wheel.name
    (tag,) = tags
    assert (tag.interpreter, tag.abi) == ("py3", "none"), f"{tag}: a binary needs no Python ABI"
    assert tag.platform not in ("any", "linux_x86_64", "linux_aarch64"), f"{tag}: PyPI takes manylinux/musllinux/macOS tags"
    assert tag in set(sys_tags()), f"{tag} is not among the tags this interpreter installs"
    with zipfile.ZipFile(wheel) as z:
        dist_info = f"{name.replace('-', '_')}-{version}.dist-info"
        wheel_meta = z.read(f"{dist_info}/WHEEL").decode()
        assert "Root-Is-Purelib: false" in wheel_meta and f"Tag: {tag}" in wheel_meta, wheel_meta


def test_wheel_holds_the_tap_executable_and_nothing_else(wheel: Path):
    name, version, _build, _tags = parse_wheel_filename(wheel.name)
    stem = f"{name.replace('-', '_')}-{version}"
    with zipfile.ZipFile(wheel) as z:
        files = {i.filename: i for i in z.infolist()}
        payload = {f for f in files if not f.startswith(f"{stem}.dist-info/")}
        assert payload == {f"{stem}.data/scripts/{EXECUTABLE}"}, (
            f"only the tap goes in (not gen-catalog, not the fake): {sorted(payload)}"
        )
        script = files[f"{stem}.data/scripts/{EXECUTABLE}"]
        assert stat.S_IMODE(script.external_attr >> 16) & 0o111, "the executable keeps its x bit"
        head = z.read(script.filename)[:4]
        assert head in (b"\x7fELF", b"\xcf\xfa\xed\xfe", b"\xca\xfe\xba\xbe"), f"a native executable, not {head!r}"
        metadata = z.read(f"{stem}.dist-info/METADATA").decode()
        record = z.read(f"{stem}.dist-info/RECORD").decode()
    fields = dict(line.split(": ", 1) for line in metadata.split("\n\n", 1)[0].splitlines() if ": " in line)
    assert fields["Name"] == DIST_NAME and fields["Version"] == cargo_version(), fields
    assert fields.get("License-Expression") == "MIT" and fields.get("Summary"), fields
    assert "Requires-Dist" not in metadata, "the tap needs no Python package"
    assert f"{stem}.data/scripts/{EXECUTABLE}," in record


def test_twine_check_strict(wheel: Path, sdist: Path):
    out = run(TWINE, "check", "--strict", wheel, sdist)
    assert out.stdout.count("PASSED") == 2, out.stdout


# --------------------------------------------------------------------------------------------
# The sdist


def test_sdist_holds_what_a_build_needs_and_builds_the_tap(wheel: Path, sdist: Path, tmp_path: Path):
    with tarfile.open(sdist) as t:
        names = t.getnames()
        top = names[0].split("/")[0]
        files = {n.split("/", 1)[1] for n in names if "/" in n}
        for need in ("Cargo.toml", "Cargo.lock", "pyproject.toml", "PKG-INFO", "README.md", "spec.json",
                     "src/main.rs", "src/lib.rs", "fake-stripe/Cargo.toml"):
            assert need in files, f"{need} missing from the sdist"
        catalog = {f for f in files if f.startswith("catalog/")}
        assert catalog == {f"catalog/{p.name}" for p in (REPO / "catalog").glob("*.json")}, "the embedded schemas"
        for left_out in ("tests/", "vendor/", "bench/", "fuzz/", "scripts/", ".venv"):
            assert not any(f.startswith(left_out) for f in files), f"{left_out} does not belong in the sdist"
        t.extractall(tmp_path, filter="data") if sys.version_info >= (3, 12) else t.extractall(tmp_path)
    # The tap builds from it alone: offline, the lock file as it is. In the wheel's own target
    # directory (target/wheel/), where maturin has just compiled the dependencies.
    cargo = shutil.which("cargo")
    assert cargo, "cargo is needed to build the sdist"
    target = wheel.parent.parent
    run(cargo, "build", "--locked", "--offline", "--bin", EXECUTABLE, cwd=tmp_path / top,
        env={"CARGO_TARGET_DIR": str(target)})
    check_installed_tap(target / "debug" / EXECUTABLE)


# --------------------------------------------------------------------------------------------
# Installs: pip, uv pip, uv tool


def test_pip_installs_it_into_a_fresh_venv(wheel: Path, tmp_path: Path):
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", venv)
    python = venv / "bin" / "python"
    run(python, "-m", "pip", "install", "--no-index", "--disable-pip-version-check", wheel)
    check_installed_tap(venv / "bin" / EXECUTABLE)
    shown = run(python, "-m", "pip", "show", DIST_NAME).stdout
    assert f"Version: {cargo_version()}" in shown, shown
    # RECORD lists it: an uninstall removes the executable.
    run(python, "-m", "pip", "uninstall", "--yes", DIST_NAME)
    assert not (venv / "bin" / EXECUTABLE).exists()


def uv_env(tmp_path: Path) -> dict:
    return {
        "UV_CACHE_DIR": str(tmp_path / "uv-cache"),
        "UV_PYTHON_DOWNLOADS": "never",
        "UV_NO_CONFIG": "1",
        "UV_OFFLINE": "1",
    }


def test_uv_pip_installs_it_into_a_fresh_venv(wheel: Path, tmp_path: Path):
    venv = tmp_path / "venv"
    env = uv_env(tmp_path)
    run(UV, "venv", "--python", sys.executable, venv, env=env)
    run(UV, "pip", "install", "--python", venv / "bin" / "python", "--no-index", wheel, env=env)
    check_installed_tap(venv / "bin" / EXECUTABLE)


def test_uv_tool_install(wheel: Path, tmp_path: Path):
    env = {**uv_env(tmp_path), "UV_TOOL_DIR": str(tmp_path / "tools"), "UV_TOOL_BIN_DIR": str(tmp_path / "bin")}
    run(UV, "tool", "install", "--python", sys.executable, "--no-index", wheel, env=env)
    check_installed_tap(tmp_path / "bin" / EXECUTABLE)
    listed = run(UV, "tool", "list", env=env).stdout
    assert f"{DIST_NAME} v{cargo_version()}" in listed and f"- {EXECUTABLE}" in listed, listed
