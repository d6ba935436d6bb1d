"""Fixtures of the image tests: the OCI image scripts/oci-image.sh built (it runs these tests right
after: OCI_LAYOUT the layout, OCI_REF its tag, OCI_ROOTFS the image unpacked again from its layer),
a runner that executes the image's entrypoint the way a container runtime would (chroot into the
root filesystem, the image's user, WorkingDir and Env only), and the fixtures of tests/python's
conftest (the binaries, the fake Stripe server, every stdout line validated with the Airbyte
protocol models), loaded from there under the module name `tap_stripe_e2e`.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import io
import json
import os
import re
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import pytest

_E2E = Path(__file__).resolve().parents[1] / "python"
sys.path.insert(0, str(_E2E))  # dockerfile_stage
_spec = importlib.util.spec_from_file_location("tap_stripe_e2e", _E2E / "conftest.py")
e2e = importlib.util.module_from_spec(_spec)
sys.modules["tap_stripe_e2e"] = e2e
_spec.loader.exec_module(e2e)

# The fixtures of tests/python/conftest.py, for these tests too.
tap_bin = e2e.tap_bin
fake_bin = e2e.fake_bin
fake = e2e.fake
fresh_fake = e2e.fresh_fake
session_tap = e2e.session_tap
discovered = e2e.discovered
pytest_sessionfinish = e2e.pytest_sessionfinish

REPO = e2e.REPO


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Account:
    name: str
    uid: int
    gid: int
    home: str


class Image:
    """An OCI image layout, read and checked as a runtime would read it: index.json, the manifest
    the tag names, the config and layers, every blob's digest and size verified when read."""

    def __init__(self, layout: Path, ref: str, rootfs: Path):
        self.layout = layout
        self.ref = ref
        self.rootfs = rootfs
        self.index = json.loads((layout / "index.json").read_text())
        tagged = [
            m for m in self.index.get("manifests", [])
            if (m.get("annotations") or {}).get("org.opencontainers.image.ref.name") == ref
        ]
        assert len(tagged) == 1, f"index.json has {len(tagged)} manifests tagged {ref!r}: {self.index}"
        self.manifest_descriptor = tagged[0]
        self.manifest = json.loads(self.blob(tagged[0]))
        self.config_blob = json.loads(self.blob(self.manifest["config"]))
        self.config = self.config_blob.get("config") or {}

    def blob(self, descriptor: dict) -> bytes:
        algorithm, digest = descriptor["digest"].split(":", 1)
        assert algorithm == "sha256", descriptor
        data = (self.layout / "blobs" / "sha256" / digest).read_bytes()
        assert sha256_hex(data) == digest, f"blob {digest} does not have that sha256"
        assert len(data) == descriptor["size"], f"blob {digest}: size {len(data)}, descriptor says {descriptor['size']}"
        return data

    @cached_property
    def layers(self) -> list[bytes]:
        """Each layer's tar, uncompressed."""
        out = []
        for d in self.manifest["layers"]:
            assert d["mediaType"] == "application/vnd.oci.image.layer.v1.tar+gzip", d
            out.append(gzip.decompress(self.blob(d)))
        return out

    @cached_property
    def entries(self) -> dict[str, tarfile.TarInfo]:
        """The files of the layers (a later layer's entry wins), by absolute path."""
        out: dict[str, tarfile.TarInfo] = {}
        for layer in self.layers:
            with tarfile.open(fileobj=io.BytesIO(layer)) as tar:
                for member in tar.getmembers():
                    path = "/" + member.name.strip("/")
                    assert ".wh." not in path, f"whiteout {path}: one layer expected, nothing removed"
                    out[path] = member
        return out

    def file(self, path: str) -> bytes:
        """A regular file's content, from the layers."""
        for layer in reversed(self.layers):
            with tarfile.open(fileobj=io.BytesIO(layer)) as tar:
                for member in tar.getmembers():
                    if "/" + member.name.strip("/") == path:
                        assert member.isfile(), f"{path} is not a regular file in the image"
                        return tar.extractfile(member).read()
        raise AssertionError(f"{path} is not in the image")

    def accounts(self, kind: str) -> dict[str, list[str]]:
        """/etc/passwd or /etc/group of the image: name -> fields."""
        text = self.file(f"/etc/{kind}").decode()
        return {line.split(":")[0]: line.split(":") for line in text.splitlines() if line}

    def user(self) -> Account:
        """The config's User resolved as runc resolves it: in the image's own /etc/passwd."""
        spec = self.config.get("User") or ""
        assert spec, "the image config has no User: it would run as root"
        name, _, group = spec.partition(":")
        passwd = self.accounts("passwd")
        by_uid = {int(f[2]): f for f in passwd.values()}
        entry = passwd.get(name) or (by_uid.get(int(name)) if name.isdigit() else None)
        assert entry, f"User {spec!r}: no such user in the image's /etc/passwd"
        uid, gid = int(entry[2]), int(entry[3])
        if group:
            groups = self.accounts("group")
            gid = int(group) if group.isdigit() else int(groups[group][2])
        return Account(entry[0], uid, gid, entry[5])

    def env(self) -> dict[str, str]:
        return dict(item.split("=", 1) for item in self.config.get("Env") or [])


@pytest.fixture(scope="session")
def image() -> Image:
    missing = [v for v in ("OCI_LAYOUT", "OCI_REF", "OCI_ROOTFS") if not os.environ.get(v)]
    if missing:
        pytest.fail(f"{', '.join(missing)} not set: run these tests with scripts/oci-image.sh", pytrace=False)
    return Image(Path(os.environ["OCI_LAYOUT"]), os.environ["OCI_REF"], Path(os.environ["OCI_ROOTFS"]))


def enter(rootfs: Path, workdir: str, user: Account):
    """A preexec_fn: what a runtime does before it executes the entrypoint (no namespaces here:
    chroot shares this machine's network, so the fake on 127.0.0.1 is reachable)."""

    def run() -> None:
        os.chroot(rootfs)
        os.chdir(workdir)
        os.setgroups([])
        os.setgid(user.gid)
        os.setuid(user.uid)

    return run


class ImageTap(e2e.Tap):
    """Runs the image's Entrypoint with the Airbyte commands in the image's root filesystem: chroot,
    WorkingDir, the image's user (no supplementary groups) and exactly the image's Env. Input files
    are written into the image's /tmp, owned by that user."""

    def __init__(self, image: Image, name: str):
        self.image = image
        self.account = image.user()
        self.inside = f"/tmp/{name}"
        host = image.rootfs / self.inside.lstrip("/")
        host.mkdir(parents=True, exist_ok=True)
        os.chown(host, self.account.uid, self.account.gid)
        super().__init__(Path(image.config["Entrypoint"][0]), host)

    def file(self, name, content) -> str:
        host = Path(super().file(name, content))
        os.chown(host, self.account.uid, self.account.gid)
        return f"{self.inside}/{host.name}"

    def run(self, *args: str, timeout: float = 180) -> e2e.Run:
        # Arguments replace Cmd (the image has none; test_image checks it), as `docker run IMAGE ARGS`.
        command = [*self.image.config["Entrypoint"], *args]
        try:
            proc = subprocess.run(
                command,
                env=self.image.env(),
                preexec_fn=enter(self.image.rootfs, self.image.config.get("WorkingDir") or "/", self.account),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired as e:
            raise AssertionError(f"`{' '.join(command)}` in the image still ran after {timeout} s") from e
        return e2e.Run(list(args), proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def image_tap(image: Image, request) -> ImageTap:
    return ImageTap(image, re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name))
