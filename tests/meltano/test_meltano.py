"""End-to-end tests of tap-stripe with Meltano and real Singer targets, against the fake Stripe server.

Run (installs are separate and idempotent):
    scripts/meltano-env.sh                      # .venv-meltano/ and .venv-targets/ (pinned, from PyPI)
    cargo build --bins                          # target/debug/tap-stripe and target/debug/fake-stripe
    .venv-meltano/bin/python -m pytest tests/meltano -q

What runs: a fake Stripe server on a free port (one for the whole session) and a throwaway Meltano
project in a temporary folder, generated from meltano/meltano.yml with
  - the extractor's `pip_url` dropped and its `executable` = a small logging wrapper that execs the
    tap binary (it records the argv Meltano passes and the content of the --state file, then gets
    out of the way); test_meltano_wheel.py installs the extractor from the wheel instead,
  - `base_url` = the fake; `client_secret` from TAP_STRIPE_CLIENT_SECRET (the .env route),
  - the loaders' `pip_url` replaced by the executables that scripts/meltano-env.sh installed.

Sections: (a) discover and select, (b) `meltano run tap-stripe target-jsonl` twice (state),
(c) a SQL target (target-duckdb through Meltano, all streams), (d) the tap's own stdout/stderr
(Singer messages through singer-python's parser, METRIC lines through singer.metrics.parse, then
the same output piped into target-jsonl, which validates every record), (e) --about.

Environment: TAP_STRIPE_BIN (default target/debug/tap-stripe), FAKE_STRIPE_BIN (default
target/debug/fake-stripe), MELTANO_TARGETS_DIR (default .venv-targets); relative paths are taken
from the repository root. No network: Meltano's usage statistics are off.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

import singer
import singer.metrics

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_PROJECT = REPO / "meltano" / "meltano.yml"
FAKE_KEY = "sk_test_fake"
PLUGIN = "tap-stripe"
STATE_ID_JSONL = "dev:tap-stripe-to-target-jsonl"

# The ten seed streams and the fake's resource (GET /_fake/objects/{resource}) each copies.
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
# Every stream the tap discovers: one schema file each in catalog/.
CATALOG_STREAMS = {p.stem for p in (REPO / "catalog").glob("*.json")}
# What the example's `select:` picks.
EXAMPLE_STREAMS = {"customers", "invoices", "invoice_line_items"}
# asyncio's StreamReader default limit: Meltano reads the output of `--discover` line by line
# with it (meltano/core/plugin/singer/tap.py, _stream_redirect), so no line may reach it.
MELTANO_DISCOVER_LINE_LIMIT = 2**16
LINE_LIMIT_HINT = (
    "Meltano reads the tap's `--discover` output with asyncio's readline and its default 64 KiB "
    "line limit ('Separator is not found, and chunk exceed the limit'): the catalog must be "
    "printed over several lines (e.g. pretty-printed JSON), no line of 64 KiB or more."
)


def _path_from_env(var: str, default: str) -> Path:
    path = Path(os.environ.get(var) or default)
    return path if path.is_absolute() else REPO / path


TAP_BIN = _path_from_env("TAP_STRIPE_BIN", "target/debug/tap-stripe")
FAKE_BIN = _path_from_env("FAKE_STRIPE_BIN", "target/debug/fake-stripe")
TARGETS_DIR = _path_from_env("MELTANO_TARGETS_DIR", ".venv-targets")
MELTANO_BIN = Path(sys.executable).parent / "meltano"
TARGET_JSONL = TARGETS_DIR / "target-jsonl" / "bin" / "target-jsonl"
TARGET_DUCKDB = TARGETS_DIR / "target-duckdb" / "bin" / "target-duckdb"
DUCKDB_PYTHON = TARGETS_DIR / "target-duckdb" / "bin" / "python"


def _require(path: Path, how: str) -> None:
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(f"{path} is missing or not executable: {how}", pytrace=False)


def _tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.splitlines()[-lines:])


# --------------------------------------------------------------------------------------------
# The fake Stripe server


class Fake:
    def __init__(self, base_url: str, process: subprocess.Popen):
        self.base_url = base_url
        self.process = process

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base_url + path, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read().decode()
        return json.loads(text) if text.strip() else None

    def objects(self, resource: str) -> list[dict]:
        return self._call("GET", f"/_fake/objects/{resource}")

    def update(self, resource: str, object_id: str, changes: dict) -> dict:
        return self._call("POST", f"/_fake/objects/{resource}/{object_id}", changes)

    def requests(self) -> list[dict]:
        return self._call("GET", "/_fake/requests")

    def clear_requests(self) -> None:
        self._call("DELETE", "/_fake/requests")

    def set_latency(self, ms: int) -> None:
        """Every Stripe request waits `ms` before it is answered (0: none)."""
        self._call("POST", "/_fake/latency", {"ms": ms})

    def ids(self, stream: str) -> list[str]:
        return [o["id"] for o in self.objects(STREAM_RESOURCES[stream])]


@pytest.fixture(scope="session")
def fake(tmp_path_factory) -> Fake:
    server = start_fake(tmp_path_factory.mktemp("fake"))
    yield server
    stop_fake(server)


def start_fake(folder: Path, *options: str) -> Fake:
    """A fake Stripe server on a free port, its stderr in `folder`; `options`: more of its flags."""
    _require(FAKE_BIN, "build it with `cargo build -p fake-stripe` (or set FAKE_STRIPE_BIN)")
    log = folder / "fake-stripe.stderr"
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            # Issuing activated (accounts lack it by default): "*.*" then fills every table.
            [str(FAKE_BIN), "--port", "0", "--enable", "issuing", *options], stdout=subprocess.PIPE, stderr=stderr, text=True
        )
    lines: queue.Queue = queue.Queue()
    threading.Thread(
        target=lambda: [lines.put(line) for line in process.stdout], daemon=True
    ).start()
    try:
        first = lines.get(timeout=30)
    except queue.Empty:
        process.kill()
        pytest.fail(f"fake-stripe printed nothing in 30 s; stderr: {log.read_text()}", pytrace=False)
    if not first.startswith("listening on "):
        process.kill()
        pytest.fail(f"fake-stripe said {first!r}; stderr: {log.read_text()}", pytrace=False)
    return Fake(first.split()[2], process)


def stop_fake(server: Fake) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


# --------------------------------------------------------------------------------------------
# The throwaway Meltano project

WRAPPER = """#!{python}
# Written by tests/meltano/test_meltano.py: logs how Meltano calls the tap (argv, the --state
# file, the --config file with the secret redacted), then execs it.
import json, os, sys
args = sys.argv[1:]
entry = {{"argv": args}}
for flag, key in (("--state", "state"), ("--config", "config")):
    if flag in args and args.index(flag) + 1 < len(args):
        try:
            with open(args[args.index(flag) + 1]) as f:
                entry[key] = json.load(f)
        except Exception as e:
            entry[key + "_error"] = repr(e)
if isinstance(entry.get("config"), dict) and entry["config"].get("client_secret"):
    entry["config"]["client_secret"] = "<redacted>"
with open({log!r}, "a") as f:
    f.write(json.dumps(entry) + "\\n")
os.execv({tap!r}, [{tap!r}] + args)
"""


class Project:
    def __init__(self, root: Path, fake: Fake):
        self.root = root
        self.fake = fake
        self.argv_log = root / "tap-invocations.jsonl"

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("TAP_STRIPE_", "TARGET_JSONL_", "TARGET_DUCKDB_", "MELTANO_"))
        }
        env.update(
            MELTANO_SEND_ANONYMOUS_USAGE_STATS="false",
            MELTANO_DISABLE_TRACKING="true",
            MELTANO_PROJECT_ROOT=str(self.root),
            MELTANO_CLI_LOG_LEVEL="info",
            NO_COLOR="1",
            COLUMNS="160",
            TAP_STRIPE_CLIENT_SECRET=FAKE_KEY,
        )
        env.update(extra)
        return env

    def meltano(
        self, *args: str, check: bool = True, timeout: float = 240, **env: str
    ) -> subprocess.CompletedProcess:
        command = [str(MELTANO_BIN), *args]
        started = time.monotonic()
        result = subprocess.run(
            command,
            cwd=self.root,
            env=self.env(**env),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        result.seconds = time.monotonic() - started  # type: ignore[attr-defined]
        if check and result.returncode != 0:
            hint = ""
            if "chunk exceed the limit" in result.stderr:
                hint = "\nLIKELY CAUSE: " + LINE_LIMIT_HINT
            raise AssertionError(
                f"`meltano {' '.join(args)}` exited {result.returncode} in {result.seconds:.1f} s"
                f"{hint}\n--- stdout (tail) ---\n{_tail(result.stdout)}"
                f"\n--- stderr (tail) ---\n{_tail(result.stderr, 60)}"
            )
        return result

    def invocations(self) -> list[dict]:
        if not self.argv_log.exists():
            return []
        return [json.loads(line) for line in self.argv_log.read_text().splitlines()]


@pytest.fixture(scope="session")
def project(fake: Fake, tmp_path_factory) -> Project:
    _require(TAP_BIN, "build it with `cargo build --bin tap-stripe` (or set TAP_STRIPE_BIN)")
    _require(MELTANO_BIN, "create .venv-meltano with scripts/meltano-env.sh and run pytest with it")
    _require(TARGET_JSONL, "run scripts/meltano-env.sh (or set MELTANO_TARGETS_DIR)")
    _require(TARGET_DUCKDB, "run scripts/meltano-env.sh (or set MELTANO_TARGETS_DIR)")
    root = tmp_path_factory.mktemp("meltano-project")
    project = Project(root, fake)

    wrapper = root / "tap-stripe-logged"
    wrapper.write_text(
        WRAPPER.format(python=sys.executable, log=str(project.argv_log), tap=str(TAP_BIN.resolve()))
    )
    wrapper.chmod(0o755)

    config = yaml.safe_load(EXAMPLE_PROJECT.read_text())
    plugins = config["plugins"]
    (tap,) = [p for p in plugins["extractors"] if p["name"] == PLUGIN]
    # The example installs the wheel (pip_url) and runs its `tap-stripe`; test_meltano_wheel.py
    # does that. Here the tap is the binary under test behind the argv-logging wrapper instead.
    assert (tap.get("pip_url"), tap.get("executable")) == ("tap-stripe-rs", "tap-stripe"), tap
    tap.pop("pip_url")
    tap["executable"] = str(wrapper)
    tap.setdefault("config", {})["base_url"] = fake.base_url
    # The fake is on loopback: no need to pace at Stripe's test-mode 25 requests/s.
    tap["config"]["max_requests_per_second"] = 1000
    assert "client_secret" not in tap["config"], "no secret in meltano.yml"
    loaders = {p["name"]: p for p in plugins["loaders"]}
    for name, executable in (("target-jsonl", TARGET_JSONL), ("target-duckdb", TARGET_DUCKDB)):
        loaders[name].pop("pip_url", None)
        loaders[name]["executable"] = str(executable)
    (root / "meltano.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    return project


def jsonl_counts(folder: Path) -> dict[str, list[dict]]:
    """Records per stream that target-jsonl wrote into `folder` (do_timestamp_file: false)."""
    if not folder.exists():
        return {}
    return {
        f.name.removesuffix(".jsonl"): [json.loads(line) for line in f.read_text().splitlines()]
        for f in sorted(folder.glob("*.jsonl"))
    }


def example_settings() -> dict[str, dict]:
    config = yaml.safe_load(EXAMPLE_PROJECT.read_text())
    (tap,) = [p for p in config["plugins"]["extractors"] if p["name"] == PLUGIN]
    return {s["name"]: s for s in tap["settings"]}


def loader_config(name: str) -> dict:
    config = yaml.safe_load(EXAMPLE_PROJECT.read_text())
    (loader,) = [p for p in config["plugins"]["loaders"] if p["name"] == name]
    return loader.get("config", {})


def full_catalog(tmp_path: Path) -> Path:
    """The tap's catalog with every stream selected (Singer metadata, breadcrumb [])."""
    discovered = subprocess.run(
        [str(TAP_BIN), "--config", str(tmp_path / "config.json"), "--discover"],
        capture_output=True, text=True, timeout=60,
    )
    assert discovered.returncode == 0, discovered.stderr
    catalog = json.loads(discovered.stdout)
    for stream in catalog["streams"]:
        for entry in stream["metadata"]:
            if entry["breadcrumb"] == []:
                entry["metadata"]["selected"] = True
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(catalog))
    return path


# --------------------------------------------------------------------------------------------
# (a) discover and select


def test_discover_output_fits_meltanos_line_reader(tmp_path: Path):
    _require(TAP_BIN, "build it with `cargo build --bin tap-stripe`")
    (tmp_path / "config.json").write_text(json.dumps({"client_secret": FAKE_KEY}))
    result = subprocess.run(
        [str(TAP_BIN), "--config", str(tmp_path / "config.json"), "--discover"],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    catalog = json.loads(result.stdout)
    assert {s["tap_stream_id"] for s in catalog["streams"]} == CATALOG_STREAMS
    longest = max(len(line.encode()) for line in result.stdout.splitlines())
    assert longest < MELTANO_DISCOVER_LINE_LIMIT, (
        f"the longest line of `--discover` is {longest} bytes. {LINE_LIMIT_HINT}"
    )


def test_meltano_invoke_discover(project: Project):
    result = project.meltano("invoke", PLUGIN, "--discover")
    try:
        catalog = json.loads(result.stdout)
    except json.JSONDecodeError as e:
        raise AssertionError(f"stdout of `meltano invoke tap-stripe --discover` is not JSON ({e}):"
                             f"\n{result.stdout[:2000]}") from e
    assert {s["tap_stream_id"] for s in catalog["streams"]} == CATALOG_STREAMS
    assert any("--discover" in call["argv"] for call in project.invocations())


def test_meltano_select_list(project: Project):
    selected = project.meltano("select", PLUGIN, "--list").stdout
    every = project.meltano("select", PLUGIN, "--list", "--all").stdout

    def rows(text: str) -> dict[str, str]:
        # "\t[selected   ] customers.email" -> {"customers.email": "selected"}
        out = {}
        for line in text.splitlines():
            line = line.strip()
            if line.startswith("[") and "]" in line:
                status, _, name = line[1:].partition("]")
                out[name.strip()] = status.strip()
        return out

    listed, listed_all = rows(selected), rows(every)
    assert listed, f"`meltano select tap-stripe --list` listed nothing:\n{selected}"
    assert {name.split(".")[0] for name in listed} == EXAMPLE_STREAMS, selected
    assert listed.get("customers.id") == "automatic", listed.get("customers.id")
    assert listed.get("customers.created") == "automatic"
    assert listed.get("customers.email") == "selected"
    assert listed.get("invoice_line_items.invoice") == "automatic"
    assert {name.split(".")[0] for name in listed_all} == CATALOG_STREAMS, every
    assert listed_all.get("customers.shipping") == "excluded", listed_all.get("customers.shipping")
    assert listed_all.get("charges.amount") == "excluded"


def test_meltano_config_test(project: Project):
    result = project.meltano("config", "test", PLUGIN)
    assert "Plugin configuration is valid" in result.stdout + result.stderr, result.stdout


# --------------------------------------------------------------------------------------------
# (b) meltano run tap-stripe target-jsonl, twice: the second run reads only what changed


def test_meltano_run_target_jsonl_incremental(project: Project, fake: Fake):
    out1 = project.root / "jsonl-run1"
    run1 = project.meltano("run", PLUGIN, "target-jsonl", TARGET_JSONL_DESTINATION_PATH=str(out1))
    written = jsonl_counts(out1)
    assert set(written) == EXAMPLE_STREAMS, (
        f"run 1 wrote {sorted(written)}, want {sorted(EXAMPLE_STREAMS)}\n{_tail(run1.stderr)}"
    )
    for stream in EXAMPLE_STREAMS:
        want = fake.ids(stream)
        got = [r["id"] for r in written[stream]]
        assert len(got) == len(want), f"{stream}: run 1 wrote {len(got)} records, the fake holds {len(want)}"
        assert set(got) == set(want), f"{stream}: ids differ from the fake's"
    assert not any("shipping" in r for r in written["customers"]), "!customers.shipping not honoured"
    assert all(r["invoice"] for r in written["invoice_line_items"])

    # Meltano stored the final STATE that target-jsonl echoed.
    listed = project.meltano("state", "list").stdout.split()
    assert STATE_ID_JSONL in listed, f"`meltano state list` gave {listed}"
    stored1 = json.loads(project.meltano("state", "get", STATE_ID_JSONL).stdout)
    bookmarks1 = stored1["singer_state"]["bookmarks"]
    for stream in EXAMPLE_STREAMS:
        assert {"created", "updated"} <= set(bookmarks1.get(stream, {})), (
            f"bookmark of {stream} after run 1: {bookmarks1.get(stream)}"
        )
    first_sync = [c for c in project.invocations() if "--catalog" in c["argv"] and "--discover" not in c["argv"]]
    assert first_sync and "--state" not in first_sync[-1]["argv"], first_sync[-1:]
    # The config file Meltano wrote: the example's values, the fake's URL, the secret from the env.
    config1 = first_sync[-1].get("config", {})
    assert config1.get("client_secret") == "<redacted>", config1
    assert config1.get("base_url") == fake.base_url and config1.get("start_date"), config1

    # One change in the fake, then run 2.
    customer = fake.objects("customer")[len(fake.objects("customer")) // 2]
    new_email = f"changed-{int(time.time())}@example.com"
    fake.update("customer", customer["id"], {"email": new_email})
    time.sleep(1.1)
    calls_before = len(project.invocations())
    out2 = project.root / "jsonl-run2"
    run2 = project.meltano("run", PLUGIN, "target-jsonl", TARGET_JSONL_DESTINATION_PATH=str(out2))

    calls = project.invocations()[calls_before:]
    syncs = [c for c in calls if "--catalog" in c["argv"] and "--discover" not in c["argv"]]
    assert len(syncs) == 1, f"tap calls of run 2: {[c['argv'] for c in calls]}"
    assert "--state" in syncs[0]["argv"], f"run 2 called the tap without --state: {syncs[0]['argv']}"
    assert syncs[0].get("state") == stored1["singer_state"], (
        f"the state Meltano passed {syncs[0].get('state')} is not the one it stored {stored1}"
    )
    written2 = jsonl_counts(out2)
    records2 = {stream: len(rows) for stream, rows in written2.items()}
    assert records2 == {"customers": 1}, (
        f"run 2 wrote {records2}, want only the changed customer\n{_tail(run2.stderr)}"
    )
    (record,) = written2["customers"]
    assert record["id"] == customer["id"] and record["email"] == new_email, record

    stored2 = json.loads(project.meltano("state", "get", STATE_ID_JSONL).stdout)
    bookmarks2 = stored2["singer_state"]["bookmarks"]
    assert bookmarks2["customers"]["updated"] > bookmarks1["customers"]["updated"], (bookmarks1, bookmarks2)

    # Run 3, nothing changed: only what lookback_window (600 s by default) re-reads, i.e. the
    # customer changed less than 600 s ago, once, as it is now.
    out3 = project.root / "jsonl-run3"
    project.meltano("run", PLUGIN, "target-jsonl", TARGET_JSONL_DESTINATION_PATH=str(out3))
    written3 = jsonl_counts(out3)
    assert {s: [r["id"] for r in rows] for s, rows in written3.items()} == {"customers": [customer["id"]]}, (
        f"run 3 (no change, default lookback) wrote {[(s, len(r)) for s, r in written3.items()]}"
    )
    assert written3["customers"][0]["email"] == new_email

    # Run 4, nothing changed and lookback_window 0 (an integer setting from the environment, as
    # Meltano passes it): nothing written, and the state moves on.
    out4 = project.root / "jsonl-run4"
    project.meltano(
        "run", PLUGIN, "target-jsonl", TARGET_JSONL_DESTINATION_PATH=str(out4), TAP_STRIPE_LOOKBACK_WINDOW="0"
    )
    config4 = project.invocations()[-1].get("config", {})
    assert config4.get("lookback_window") == 0, f"config Meltano wrote for run 4: {config4}"
    assert {s: len(r) for s, r in jsonl_counts(out4).items()} == {}, "run 4 (no change, no lookback) wrote records"


# --------------------------------------------------------------------------------------------
# (c) a SQL target: every stream into DuckDB through Meltano


def test_meltano_run_sql_target_duckdb(project: Project, fake: Fake):
    # The file's stem names DuckDB's catalog: keep it unlike the schema (else "ambiguous reference").
    database = project.root / "duckdb" / "warehouse.duckdb"
    database.parent.mkdir(exist_ok=True)
    schema = loader_config("target-duckdb")["default_target_schema"]
    project.meltano(
        "run", PLUGIN, "target-duckdb",
        TAP_STRIPE__SELECT=json.dumps(["*.*"]),
        TARGET_DUCKDB_FILEPATH=str(database),
    )
    script = (
        "import duckdb, json, sys\n"
        "c = duckdb.connect(sys.argv[1], read_only=True)\n"
        "tables = c.execute('select table_name from information_schema.tables"
        " where table_schema = ?', [sys.argv[2]]).fetchall()\n"
        "print(json.dumps({t: c.execute(f'select count(*), count(distinct id)"
        " from \"{sys.argv[2]}\".\"{t}\"').fetchone() for (t,) in tables}))\n"
    )
    counted = subprocess.run(
        [str(DUCKDB_PYTHON), "-c", script, str(database), schema], capture_output=True, text=True, timeout=60
    )
    assert counted.returncode == 0, counted.stderr
    rows = json.loads(counted.stdout)
    assert set(rows) == CATALOG_STREAMS, f"tables in schema {schema}: {sorted(rows)}"
    mismatches = {}
    for stream, resource in STREAM_RESOURCES.items():
        want = len(fake.objects(resource))
        if tuple(rows[stream]) != (want, want):
            mismatches[stream] = {"rows, distinct ids": rows[stream], "fake": want}
    assert not mismatches, f"DuckDB row counts differ from the fake: {mismatches}"


# --------------------------------------------------------------------------------------------
# (d) the tap's own output: Singer messages, METRIC lines, and a pipe into target-jsonl


def test_direct_sync_messages_and_metrics(fake: Fake, tmp_path: Path):
    _require(TAP_BIN, "build it with `cargo build --bin tap-stripe`")
    _require(TARGET_JSONL, "run scripts/meltano-env.sh")
    config = {"client_secret": FAKE_KEY, "base_url": fake.base_url, "start_date": "2015-01-01T00:00:00Z",
              "max_requests_per_second": 1000}
    (tmp_path / "config.json").write_text(json.dumps(config))
    catalog = full_catalog(tmp_path)
    fake.clear_requests()
    # Every request takes at least this long: a lower bound on each http_request_duration timer
    # that does not depend on the machine's speed.
    latency_ms = 20
    fake.set_latency(latency_ms)
    try:
        sync = subprocess.run(
            [str(TAP_BIN), "--config", str(tmp_path / "config.json"), "--catalog", str(catalog)],
            capture_output=True, text=True, timeout=180,
        )
    finally:
        fake.set_latency(0)
    stripe_requests = [r for r in fake.requests() if r.get("path", "").startswith("/v1/")]
    assert sync.returncode == 0, _tail(sync.stderr)

    # stdout: Singer messages only, each one parsed by singer-python.
    records: Counter = Counter()
    schemas: set[str] = set()
    messages = []
    for number, line in enumerate(sync.stdout.splitlines(), 1):
        try:
            message = singer.parse_message(line)
        except Exception as e:  # noqa: BLE001
            raise AssertionError(f"stdout line {number} is not a Singer message ({e!r}): {line[:300]}") from e
        assert message is not None, f"stdout line {number}: unknown message type: {line[:300]}"
        messages.append(message)
        if isinstance(message, singer.SchemaMessage):
            assert isinstance(message.key_properties, list), line[:300]
            schemas.add(message.stream)
        elif isinstance(message, singer.RecordMessage):
            assert message.stream in schemas, f"RECORD of {message.stream} before its SCHEMA"
            if '"time_extracted"' in line:
                assert message.time_extracted is not None, f"time_extracted not RFC 3339: {line[:300]}"
            records[message.stream] += 1
        else:
            assert isinstance(message, singer.StateMessage), f"unexpected message {type(message)}"
    assert messages and isinstance(messages[-1], singer.StateMessage), "the sync must end with a STATE"
    for stream, resource in STREAM_RESOURCES.items():
        assert records[stream] == len(fake.objects(resource)), (
            f"{stream}: {records[stream]} records, the fake holds {len(fake.objects(resource))}"
        )

    # stderr: METRIC lines, through singer-python's parser.
    points = []
    for line in sync.stderr.splitlines():
        point = singer.metrics.parse(line)
        if line.startswith("INFO METRIC: "):
            assert point is not None, f"METRIC line singer.metrics.parse cannot read: {line}"
        if point is not None:
            assert point.metric_type in ("counter", "timer"), line
            assert isinstance(point.tags, dict), line
            points.append(point)
    counted: Counter = Counter()
    for p in points:
        if p.metric == "record_count":
            assert p.metric_type == "counter" and isinstance(p.value, int), p
            counted[p.tags.get("endpoint")] += p.value
    assert counted == records, f"record_count counters {dict(counted)} != records emitted {dict(records)}"
    timers = [p for p in points if p.metric == "http_request_duration"]
    assert timers, "no http_request_duration timer on stderr"
    for p in timers:
        assert p.metric_type == "timer" and isinstance(p.value, (int, float)), p
        # Seconds: at least the fake's latency, and below the 60 s request timeout (milliseconds
        # or a nonsense value would not be).
        assert latency_ms / 1000 <= p.value < 30, p
        assert p.tags.get("endpoint"), p
        assert isinstance(p.tags.get("http_status_code"), int), p
        assert p.tags.get("status") in ("succeeded", "failed"), p
    assert all(p.tags["http_status_code"] == 200 for p in timers), {p.tags["http_status_code"] for p in timers}
    assert len(timers) == len(stripe_requests), (
        f"{len(timers)} http_request_duration timers for {len(stripe_requests)} requests the fake served"
    )

    # The same stdout piped into target-jsonl: it validates every record against its SCHEMA
    # (JSON Schema Draft 4) and echoes the final STATE.
    out = tmp_path / "jsonl"
    (tmp_path / "target.json").write_text(json.dumps({"destination_path": str(out), "do_timestamp_file": False}))
    target = subprocess.run(
        [str(TARGET_JSONL), "--config", str(tmp_path / "target.json")],
        input=sync.stdout, capture_output=True, text=True, timeout=180,
    )
    assert target.returncode == 0, f"target-jsonl failed:\n{_tail(target.stderr)}"
    assert {s: len(r) for s, r in jsonl_counts(out).items()} == {s: n for s, n in records.items() if n}
    echoed = [json.loads(line) for line in target.stdout.splitlines() if line.strip()]
    assert echoed and echoed[-1] == messages[-1].value, "target-jsonl did not echo the final STATE"


# --------------------------------------------------------------------------------------------
# (e) --about


def check_about(about: dict) -> None:
    for key in ("name", "description", "version", "capabilities", "settings"):
        assert key in about, f"--about JSON lacks {key}: {sorted(about)}"
    assert about["name"] == "tap-stripe"
    assert {"catalog", "discover", "state", "about"} <= set(about["capabilities"]), about["capabilities"]
    settings = about["settings"]
    assert settings.get("type") == "object" and "client_secret" in settings.get("required", []), settings
    declared = example_settings()
    assert set(declared) == set(settings["properties"]), (
        f"meltano/meltano.yml settings {sorted(declared)} != the tap's {sorted(settings['properties'])}"
    )
    assert declared["client_secret"].get("sensitive") is True


def test_about_json_direct():
    _require(TAP_BIN, "build it with `cargo build --bin tap-stripe`")
    result = subprocess.run([str(TAP_BIN), "--about", "--format", "json"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    check_about(json.loads(result.stdout))
    markdown = subprocess.run([str(TAP_BIN), "--about", "--format", "markdown"], capture_output=True, text=True, timeout=30)
    assert markdown.returncode == 0 and "client_secret" in markdown.stdout, markdown.stderr


def test_meltano_invoke_about(project: Project):
    result = project.meltano("invoke", PLUGIN, "--about", "--format=json")
    check_about(json.loads(result.stdout))
    about_call = [c for c in project.invocations() if "--about" in c["argv"]][-1]
    assert "--config" in about_call["argv"], about_call
