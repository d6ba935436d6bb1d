"""The Airbyte connector image that scripts/oci-image.sh builds without Docker (see conftest.py):
(a) the OCI layout itself, (b) Airbyte's rules for the config (absolute Entrypoint equal to
AIRBYTE_ENTRYPOINT, a non-root `airbyte` user, WorkingDir /airbyte, the io.airbyte labels equal to
metadata.yaml), (c) the files of the layer (/airbyte owned by the user, the binary, the CA
certificates), (d) the Dockerfile declares the same image, (e) spec, check, discover and read run
inside the image against the fake Stripe server, and TLS trusts the image's certificate store.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import dockerfile_stage
from conftest import REPO, Image, ImageTap, enter
from tap_stripe_e2e import SPEC_JSON, STREAM_RESOURCES, Fake, configured_catalog

ENTRYPOINT = "/usr/local/bin/tap-stripe"
WORKDIR = "/airbyte"
# Airbyte's connector base images: user `airbyte`, uid and gid 1000, owning /airbyte.
USER, UID, GID = "airbyte", 1000, 1000
# The PATH of Debian's images (the Dockerfile's runtime stage inherits it from its base).
DEBIAN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
STREAMS = sorted(STREAM_RESOURCES)


@pytest.fixture(scope="module")
def metadata() -> dict:
    return yaml.safe_load((REPO / "metadata.yaml").read_text())["data"]


# --------------------------------------------------------------------------------------------
# (a) The OCI layout


def test_layout_blobs_and_digests(image: Image):
    assert json.loads((image.layout / "oci-layout").read_text()) == {"imageLayoutVersion": "1.0.0"}
    assert image.index["schemaVersion"] == 2
    assert image.manifest_descriptor["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    assert image.manifest["schemaVersion"] == 2
    assert image.manifest["config"]["mediaType"] == "application/vnd.oci.image.config.v1+json"
    assert image.config_blob["os"] == "linux" and image.config_blob["architecture"] == "amd64", image.config_blob
    # Each layer's uncompressed digest is the config's diff_id (what a runtime verifies on pull).
    diff_ids = [f"sha256:{hashlib.sha256(layer).hexdigest()}" for layer in image.layers]
    assert image.config_blob["rootfs"] == {"type": "layers", "diff_ids": diff_ids}
    assert len(image.layers) == 1, "one layer: the whole root filesystem"
    # Nothing in blobs/ that no descriptor names (umoci gc ran).
    named = {image.manifest_descriptor["digest"], image.manifest["config"]["digest"]}
    named |= {d["digest"] for d in image.manifest["layers"]}
    on_disk = {f"sha256:{p.name}" for p in (image.layout / "blobs" / "sha256").iterdir()}
    assert on_disk == named, f"unreferenced blobs: {sorted(on_disk - named)}"


# --------------------------------------------------------------------------------------------
# (b) The config: Airbyte's rules


def test_entrypoint_is_absolute_and_equals_airbyte_entrypoint(image: Image):
    entrypoint = image.config.get("Entrypoint")
    assert entrypoint == [ENTRYPOINT], entrypoint
    assert all(Path(p).is_absolute() for p in entrypoint[:1])
    # Airbyte's CAT (test_image_environment_variables): AIRBYTE_ENTRYPOINT = the space-joined entrypoint.
    assert image.env().get("AIRBYTE_ENTRYPOINT") == " ".join(entrypoint)
    assert image.env() == {"PATH": DEBIAN_PATH, "AIRBYTE_ENTRYPOINT": ENTRYPOINT}, image.env()
    assert not image.config.get("Cmd"), "no Cmd: Airbyte passes the command (spec, check, ...) as arguments"


def test_user_is_airbyte_not_root(image: Image):
    account = image.user()
    assert (account.name, account.uid, account.gid) == (USER, UID, GID), account
    assert image.config["User"] == USER
    assert image.accounts("group")[USER][2] == str(GID)
    assert image.config.get("WorkingDir") == WORKDIR


def test_labels_are_metadatas(image: Image, metadata: dict, session_tap):
    labels = image.config.get("Labels") or {}
    # Airbyte's CAT (test_image_labels): the labels equal metadata.yaml's.
    assert labels == {"io.airbyte.name": metadata["dockerRepository"], "io.airbyte.version": metadata["dockerImageTag"]}
    run = session_tap.run("--version")
    assert run.stdout.strip() == f"tap-stripe {image.ref}", "the image's tag is the binary's version"
    assert labels["io.airbyte.version"] == image.ref


# --------------------------------------------------------------------------------------------
# (c) The files of the layer


def test_airbyte_directory_is_owned_by_the_user(image: Image):
    entry = image.entries["/airbyte"]
    assert entry.isdir() and (entry.uid, entry.gid) == (UID, GID) and stat.S_IMODE(entry.mode) == 0o755, (
        f"/airbyte in the layer: dir={entry.isdir()} owner={entry.uid}:{entry.gid} mode={oct(entry.mode)}"
    )
    unpacked = os.stat(image.rootfs / "airbyte")
    assert (unpacked.st_uid, unpacked.st_gid) == (UID, GID)


def test_only_the_user_writes_where_it_should(image: Image):
    """As the image's user: /airbyte and /tmp are writable, / and the binary are not."""

    def can_write(path: str) -> bool:
        pid = os.fork()
        if pid == 0:  # the child: enter the image, try, report by exit code
            try:
                enter(image.rootfs, "/", image.user())()
                if path.endswith("/"):
                    probe = path + ".write-probe"
                    with open(probe, "w") as f:
                        f.write("x")
                    os.unlink(probe)
                else:
                    with open(path, "r+b"):
                        pass
                os._exit(0)
            except PermissionError:
                os._exit(3)
            except BaseException:
                os._exit(4)
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        assert code in (0, 3), f"probing {path} failed with {code}"
        return code == 0

    assert can_write("/airbyte/"), "the image's user cannot write /airbyte"
    assert can_write("/tmp/"), "the image's user cannot write /tmp"
    assert not can_write("/"), "the image's user can write / (is it root?)"
    assert not can_write(ENTRYPOINT), "the image's user can change the binary"


def test_binary_is_the_built_one(image: Image, tap_bin: Path):
    entry = image.entries[ENTRYPOINT]
    assert entry.isfile() and (entry.uid, entry.gid) == (0, 0) and stat.S_IMODE(entry.mode) == 0o755, entry
    assert hashlib.sha256(image.file(ENTRYPOINT)).digest() == hashlib.sha256(tap_bin.read_bytes()).digest(), (
        f"{ENTRYPOINT} in the image is not {tap_bin}"
    )
    assert stat.S_IMODE(image.entries["/tmp"].mode) == 0o1777


def test_ca_certificates_are_mozillas(image: Image):
    from cryptography import x509

    pem = image.file(CA_BUNDLE)
    certs = x509.load_pem_x509_certificates(pem)
    # Debian's ca-certificates: Mozilla's roots, 100-odd of them.
    assert len(certs) >= 100, f"{CA_BUNDLE} holds {len(certs)} certificates"
    for cert in certs:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
        assert constraints.ca, f"{cert.subject.rfc4514_string()} in {CA_BUNDLE} is not a CA certificate"
    names = {cert.subject.rfc4514_string() for cert in certs}
    assert any("ISRG Root X1" in n for n in names), "Let's Encrypt's root is missing: not Mozilla's list?"
    entry = image.entries[CA_BUNDLE]
    assert (entry.uid, stat.S_IMODE(entry.mode)) == (0, 0o644), entry


# --------------------------------------------------------------------------------------------
# (d) The Dockerfile declares the same image


def test_dockerfile_builds_the_same_image(image: Image):
    stage = dockerfile_stage.parse()
    account = image.user()
    assert stage.base == "debian:bookworm-slim", "DEBIAN_PATH below is the PATH of Debian's images"
    assert stage.user == image.config["User"]
    assert stage.workdir == image.config["WorkingDir"]
    assert stage.entrypoint == image.config["Entrypoint"]
    assert {"PATH": DEBIAN_PATH, **stage.env} == image.env()
    assert stage.labels == image.config["Labels"]
    # The user and its group, with the same ids and home.
    users, groups = stage.created("useradd"), stage.created("groupadd")
    assert set(users) == {account.name} and set(groups) == {account.name}, (users, groups)
    assert groups[account.name].options.get("--gid") == str(account.gid)
    options = users[account.name].options
    assert (options.get("--uid"), options.get("--gid")) == (str(account.uid), str(account.gid)), options
    assert options.get("--home-dir") == account.home == WORKDIR
    assert options.get("--shell") == image.accounts("passwd")[account.name][6]
    # /airbyte: its mode and owner.
    entry = image.entries[WORKDIR]
    assert stage.directory_modes().get(WORKDIR) == oct(stat.S_IMODE(entry.mode))[2:]
    assert stage.owners().get(WORKDIR) == f"{account.name}:{account.name}"
    # The binary lands at the entrypoint.
    assert any(c[-1] == ENTRYPOINT and c[0].startswith("--from=") for c in stage.copies), stage.copies


# --------------------------------------------------------------------------------------------
# (e) The Airbyte commands inside the image


def test_spec_in_the_image(image_tap: ImageTap):
    run = image_tap.spec()
    assert run.returncode == 0, f"spec failed in the image{run.describe()}"
    specs = run.of_type("SPEC")
    assert len(run.messages) == 1 and len(specs) == 1, run.describe()
    assert specs[0]["connectionSpecification"] == json.loads(SPEC_JSON.read_text())


def test_check_in_the_image(image_tap: ImageTap, fake: Fake):
    good = image_tap.check(fake.config())
    assert good.returncode == 0 and [s["status"] for s in good.of_type("CONNECTION_STATUS")] == ["SUCCEEDED"], (
        good.describe()
    )
    bad = image_tap.check(fake.config(client_secret="sk_test_imagewrongkey"))
    statuses = bad.of_type("CONNECTION_STATUS")
    assert bad.returncode == 0 and [s["status"] for s in statuses] == ["FAILED"], bad.describe()
    assert "Invalid API Key provided" in statuses[0]["message"], statuses
    assert "sk_test_imagewrongkey" not in bad.stdout + bad.stderr, "the key was printed"


def test_discover_in_the_image(image_tap: ImageTap, fake: Fake, discovered: dict):
    run = image_tap.discover(fake.config())
    assert run.returncode == 0, f"discover failed in the image{run.describe()}"
    catalogs = run.of_type("CATALOG")
    assert catalogs == [discovered], "the image's catalog differs from the binary's"


def test_read_in_the_image(image_tap: ImageTap, fake: Fake, discovered: dict):
    catalog = configured_catalog(discovered, STREAMS)
    first = image_tap.read(fake.config(), catalog)
    assert first.returncode == 0, f"read failed in the image{first.describe()}"
    assert first.record_counts() == {s: fake.count(s) for s in STREAMS}, first.describe()
    assert not first.traces("ERROR"), first.describe()
    again = image_tap.read(fake.config(), catalog, state=first.final_states())
    assert again.returncode == 0 and again.record_counts() == {}, f"the state was not honoured{again.describe()}"


def test_tls_trusts_the_images_certificate_store(image: Image, image_tap: ImageTap, fake: Fake, tmp_path: Path):
    """A server whose certificate comes from a CA of this test: refused while the CA is not in the
    image's /etc/ssl/certs/ca-certificates.crt, trusted once it is (the store the tap reads in the
    image; Mozilla's roots are also built into the binary, so a real key works either way)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    import ipaddress

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tap-stripe image test CA")])
    ca = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    proxy = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("tls_proxy.py")), fake.base_url,
         str(tmp_path / "cert.pem"), str(tmp_path / "key.pem")],
        stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
    )
    bundle = image.rootfs / CA_BUNDLE.lstrip("/")
    original = bundle.read_bytes()
    try:
        line = proxy.stdout.readline()
        assert line.startswith("listening on https://"), f"tls_proxy.py printed {line!r}"
        config = fake.config(base_url=line.split()[-1], request_timeout=10)

        refused = image_tap.check(config)
        status = refused.of_type("CONNECTION_STATUS")
        assert [s["status"] for s in status] == ["FAILED"], f"a certificate of an unknown CA was accepted{refused.describe()}"
        assert "certificate" in status[0]["message"].lower(), status

        bundle.write_bytes(original + ca.public_bytes(serialization.Encoding.PEM))
        trusted = image_tap.check(config)
        assert [s["status"] for s in trusted.of_type("CONNECTION_STATUS")] == ["SUCCEEDED"], (
            f"the CA added to the image's {CA_BUNDLE} was not trusted{trusted.describe()}"
        )
    finally:
        bundle.write_bytes(original)
        proxy.terminate()
        proxy.wait(timeout=10)
