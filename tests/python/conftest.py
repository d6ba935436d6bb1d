"""Fixtures of the Airbyte end-to-end tests: the tap-stripe binary, the fake Stripe server, and
helpers that run the binary's Airbyte commands and check what they print.

Binaries: TAP_STRIPE_BIN (default target/debug/tap-stripe) and FAKE_STRIPE_BIN (default
target/debug/fake-stripe), relative paths taken from the repository root. scripts/test builds them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

# PyAirbyte reads these when `airbyte` is imported, so they are set before any test module runs.
# Offline mode: no call to Airbyte's connector registry and no telemetry.
_SCRATCH = Path(tempfile.mkdtemp(prefix="tap-stripe-e2e-"))
os.environ["AIRBYTE_OFFLINE_MODE"] = "1"
os.environ["DO_NOT_TRACK"] = "1"
os.environ["AIRBYTE_PROJECT_DIR"] = str(_SCRATCH / "airbyte-project")
os.environ["AIRBYTE_LOGGING_ROOT"] = str(_SCRATCH / "airbyte-logs")
os.environ["AIRBYTE_TEMP_DIR"] = str(_SCRATCH / "airbyte-tmp")
for _d in ("airbyte-project", "airbyte-logs", "airbyte-tmp"):
    (_SCRATCH / _d).mkdir()

import pytest  # noqa: E402
from airbyte_protocol.models import AirbyteMessage  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
SPEC_JSON = REPO / "spec.json"
FAKE_KEY = "sk_test_fake"

# The ten streams and the fake's resource (GET /_fake/objects/{resource}) each one copies.
STREAM_RESOURCES = {
    "balance_transactions": "balance_transaction",
    "bank_accounts": "bank_account",
    "charges": "charge",
    "coupons": "coupon",
    "customer_balance_transactions": "customer_balance_transaction",
    "customers": "customer",
    "disputes": "dispute",
    "events": "event",
    "invoice_line_items": "line_item",
    "invoices": "invoice",
}

# Payload key of each AirbyteMessage type.
PAYLOAD_KEYS = {
    "RECORD": "record",
    "STATE": "state",
    "LOG": "log",
    "SPEC": "spec",
    "CONNECTION_STATUS": "connectionStatus",
    "CATALOG": "catalog",
    "TRACE": "trace",
    "CONTROL": "control",
}


def pytest_sessionfinish(session, exitstatus):  # noqa: ARG001
    shutil.rmtree(_SCRATCH, ignore_errors=True)


def _binary(env: str, default: str) -> Path:
    path = Path(os.environ.get(env) or default)
    if not path.is_absolute():
        path = REPO / path
    if not path.is_file():
        pytest.fail(
            f"{path} does not exist: build it (scripts/test does: cargo build --workspace --bins) "
            f"or point {env} at it",
            pytrace=False,
        )
    return path


@pytest.fixture(scope="session")
def tap_bin() -> Path:
    return _binary("TAP_STRIPE_BIN", "target/debug/tap-stripe")


@pytest.fixture(scope="session")
def fake_bin() -> Path:
    return _binary("FAKE_STRIPE_BIN", "target/debug/fake-stripe")


# --------------------------------------------------------------------------------------------
# The fake Stripe server


class Fake:
    """A `fake-stripe --port 0` process on the real clock, and its admin API."""

    def __init__(self, binary: Path, workdir: Path, extra_args: tuple[str, ...] = ()):
        workdir.mkdir(parents=True, exist_ok=True)
        self.log_path = workdir / "fake-stripe.log"
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [str(binary), "--port", "0", *extra_args],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while True:
            text = self.log_path.read_text(errors="replace")
            found = re.search(r"^listening on (http://\S+)", text, re.M)
            if found:
                break
            if self.proc.poll() is not None:
                raise RuntimeError(f"fake-stripe exited with {self.proc.returncode} before listening:\n{text}")
            if time.monotonic() > deadline:
                self.close()
                raise RuntimeError(f"fake-stripe printed no 'listening on' line within 30 s:\n{text}")
            time.sleep(0.05)
        self.base_url = found.group(1).rstrip("/")
        # The generated data ends at the fake's start second and a sync reads `created` windows that
        # end (exclusive) at its own start: begin in a later second so a first sync reads it all.
        start = self.get("/_fake/health")["now"]
        while time.time() < start + 1:
            time.sleep(0.05)

    def request(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.base_url + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as e:
            raise AssertionError(f"fake-stripe {method} {path} answered {e.code}: {e.read()[:500]!r}") from e

    def get(self, path: str) -> Any:
        return self.request("GET", path)

    def post(self, path: str, body: Any) -> Any:
        return self.request("POST", path, body)

    def stripe(self, path: str, account: str | None = None) -> Any:
        """`GET` of Stripe's API itself (with `Stripe-Account` when given)."""
        headers = {"Authorization": f"Bearer {FAKE_KEY}"}
        if account:
            headers["Stripe-Account"] = account
        req = urllib.request.Request(self.base_url + path, headers=headers)
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read())

    def stripe_ids(self, path: str, account: str | None = None) -> set[str]:
        """The ids of every object of a Stripe list (paged)."""
        ids: list[str] = []
        while True:
            sep = "&" if "?" in path else "?"
            after = f"&starting_after={ids[-1]}" if ids else ""
            page = self.stripe(f"{path}{sep}limit=100{after}", account)
            ids += [o["id"] for o in page["data"]]
            if not page["has_more"]:
                return set(ids)

    def objects(self, resource: str) -> list[dict]:
        """Every object of `resource` the fake holds (deleted ones excluded)."""
        return self.get(f"/_fake/objects/{resource}")

    def count(self, stream: str) -> int:
        return len(self.objects(STREAM_RESOURCES[stream]))

    def forbid(self, path_prefix: str) -> None:
        self.post("/_fake/forbid", {"path_prefix": path_prefix})

    def update(self, resource: str, object_id: str, changes: dict) -> dict:
        return self.post(f"/_fake/objects/{resource}/{object_id}", changes)

    def config(self, **overrides: Any) -> dict:
        """A config for this fake. lookback_window 0: an incremental rerun re-reads nothing."""
        # Loopback: no need to pace at Stripe's test-mode 25 requests/s.
        cfg = {"client_secret": FAKE_KEY, "base_url": self.base_url, "lookback_window": 0, "max_requests_per_second": 1000}
        cfg.update(overrides)
        return {k: v for k, v in cfg.items() if v is not None}

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


@pytest.fixture(scope="session")
def fake(fake_bin: Path, tmp_path_factory) -> Iterator[Fake]:
    """One fake for the whole session. Tests must not change it (no forbid, no update): use
    `fresh_fake` for that."""
    f = Fake(fake_bin, tmp_path_factory.mktemp("fake"))
    yield f
    f.close()


@pytest.fixture
def fresh_fake(fake_bin: Path, tmp_path: Path) -> Iterator[Fake]:
    """A fake of this test alone, free to change."""
    f = Fake(fake_bin, tmp_path / "fake")
    yield f
    f.close()


# --------------------------------------------------------------------------------------------
# Running the binary


@dataclass
class Run:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str
    _messages: list[dict] | None = field(default=None, repr=False)

    def describe(self) -> str:
        """For assertion messages: the command, its exit code, the ends of stdout and stderr."""
        out = self.stdout.splitlines()
        shown = "\n".join(line[:300] for line in out[:5])
        if len(out) > 5:
            shown += f"\n... ({len(out) - 5} more lines)"
        err = self.stderr.strip().splitlines()
        return (
            f"\n$ tap-stripe {' '.join(self.args)}\nexit code {self.returncode}\n"
            f"stdout ({len(out)} lines):\n{shown}\nstderr (last 15 lines):\n" + "\n".join(err[-15:])
        )

    @property
    def messages(self) -> list[dict]:
        """The stdout lines as JSON objects, each validated as an AirbyteMessage."""
        if self._messages is None:
            self._messages = validate_airbyte_stdout(self)
        return self._messages

    def of_type(self, kind: str) -> list[dict]:
        return [m[PAYLOAD_KEYS[kind]] for m in self.messages if m["type"] == kind]

    def records(self, stream: str | None = None) -> list[dict]:
        return [r for r in self.of_type("RECORD") if stream is None or r["stream"] == stream]

    def record_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for r in self.records():
            counts[r["stream"]] = counts.get(r["stream"], 0) + 1
        return counts

    def traces(self, kind: str) -> list[dict]:
        return [t for t in self.of_type("TRACE") if t["type"] == kind]

    def statuses(self) -> dict[tuple, list[str]]:
        """STREAM_STATUS values in order, per (name, namespace) of their descriptor."""
        out: dict[tuple, list[str]] = {}
        for t in self.traces("STREAM_STATUS"):
            d = t["stream_status"]["stream_descriptor"]
            out.setdefault((d["name"], d.get("namespace")), []).append(t["stream_status"]["status"])
        return out

    def final_states(self) -> list[dict]:
        """The last STATE of each stream: a state input for the next run."""
        last: dict[tuple, dict] = {}
        for s in self.of_type("STATE"):
            d = s["stream"]["stream_descriptor"]
            last[(d["name"], d.get("namespace"))] = s
        return list(last.values())


def validate_airbyte_stdout(run: Run) -> list[dict]:
    """Every stdout line is one AirbyteMessage (pydantic validation with the protocol models), whose
    payload is under the key its type names; stdout holds nothing else."""
    assert run.stdout == "" or run.stdout.endswith("\n"), f"stdout does not end with a newline{run.describe()}"
    messages = []
    for number, line in enumerate(run.stdout.split("\n")[:-1], start=1):
        where = f"stdout line {number} of `tap-stripe {' '.join(run.args)}`: {line[:400]!r}"
        assert line.strip(), f"empty {where}"
        try:
            raw = json.loads(line)
        except ValueError as e:
            raise AssertionError(f"not JSON ({e}): {where}") from None
        assert isinstance(raw, dict), f"not a JSON object: {where}"
        try:
            model = parse_airbyte_message(line)
        except Exception as e:  # pydantic.ValidationError
            raise AssertionError(f"not an AirbyteMessage:\n{e}\n{where}") from None
        kind = getattr(model.type, "value", model.type)
        assert kind == raw.get("type"), f"type {raw.get('type')!r} parsed as {kind!r}: {where}"
        payload = PAYLOAD_KEYS[kind]
        assert isinstance(raw.get(payload), dict), f"a {kind} message without its `{payload}` object: {where}"
        others = [k for k in PAYLOAD_KEYS.values() if k != payload and k in raw]
        assert not others, f"a {kind} message also carries {others}: {where}"
        if kind == "RECORD":
            emitted_at = raw["record"]["emitted_at"]
            assert isinstance(emitted_at, int) and not isinstance(emitted_at, bool), (
                f"record.emitted_at must be an integer (epoch ms): {where}"
            )
            assert isinstance(raw["record"]["data"], dict), f"record.data must be an object: {where}"
        messages.append(raw)
    return messages


def parse_airbyte_message(line: str) -> AirbyteMessage:
    if hasattr(AirbyteMessage, "model_validate_json"):  # pydantic 2
        return AirbyteMessage.model_validate_json(line)
    return AirbyteMessage.parse_raw(line)  # pydantic 1


class Tap:
    """Runs tap-stripe's Airbyte commands with files written in a temporary directory."""

    def __init__(self, binary: Path, workdir: Path):
        self.binary = binary
        self.workdir = workdir
        self._n = 0

    def file(self, name: str, content: Any) -> str:
        """Writes `content` (JSON, or a str taken as the file's text) and returns its path."""
        self._n += 1
        path = self.workdir / f"{self._n:02d}-{name}"
        path.write_text(content if isinstance(content, str) else json.dumps(content))
        return str(path)

    def run(self, *args: str, timeout: float = 180) -> Run:
        try:
            proc = subprocess.run(
                [str(self.binary), *args],
                cwd=self.workdir,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired as e:
            raise AssertionError(f"`tap-stripe {' '.join(args)}` still ran after {timeout} s") from e
        return Run(list(args), proc.returncode, proc.stdout, proc.stderr)

    def spec(self) -> Run:
        return self.run("spec")

    def check(self, config: dict | str) -> Run:
        return self.run("check", "--config", self.file("config.json", config))

    def discover(self, config: dict) -> Run:
        return self.run("discover", "--config", self.file("config.json", config))

    def read(self, config: dict, catalog: dict, state: Any = None) -> Run:
        """`read`; `state` is a JSON value or the exact text of the state file (a str)."""
        args = ["read", "--config", self.file("config.json", config), "--catalog", self.file("catalog.json", catalog)]
        if state is not None:
            args += ["--state", self.file("state.json", state)]
        return self.run(*args)


@pytest.fixture
def tap(tap_bin: Path, tmp_path: Path) -> Tap:
    d = tmp_path / "tap"
    d.mkdir()
    return Tap(tap_bin, d)


@pytest.fixture(scope="session")
def session_tap(tap_bin: Path, tmp_path_factory) -> Tap:
    return Tap(tap_bin, tmp_path_factory.mktemp("tap"))


@pytest.fixture(scope="session")
def discovered(session_tap: Tap, fake: Fake) -> dict:
    """The CATALOG of `discover`."""
    run = session_tap.discover(fake.config())
    assert run.returncode == 0, f"discover failed{run.describe()}"
    catalogs = run.of_type("CATALOG")
    assert len(catalogs) == 1, f"discover printed {len(catalogs)} CATALOG messages{run.describe()}"
    return catalogs[0]


def configured_catalog(
    discovered: dict, streams: list[str], sync_mode: str = "incremental", namespace: str | None = None
) -> dict:
    """A ConfiguredAirbyteCatalog as Airbyte and PyAirbyte write it, for `streams`."""
    by_name = {s["name"]: s for s in discovered["streams"]}
    entries = []
    for name in streams:
        stream = json.loads(json.dumps(by_name[name]))
        if namespace is not None:
            stream["namespace"] = namespace
        entries.append(
            {
                "stream": stream,
                "sync_mode": sync_mode,
                "destination_sync_mode": "append_dedup" if sync_mode == "incremental" else "overwrite",
                "cursor_field": stream.get("default_cursor_field", []),
                "primary_key": stream.get("source_defined_primary_key", []),
            }
        )
    return {"streams": entries}
