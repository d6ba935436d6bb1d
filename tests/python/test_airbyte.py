"""End-to-end tests of tap-stripe as an Airbyte source: the real binary against the fake Stripe
server, every stdout line validated with the Airbyte protocol models, then PyAirbyte driving it.

Sections: (a) protocol conformance of all four commands, (b) spec, (c) check, (d) discover,
(e) read semantics, (f) PyAirbyte end to end.
"""

from __future__ import annotations

import json
from typing import Iterator
import time

import pytest

from conftest import (
    FAKE_KEY,
    SPEC_JSON,
    REPO,
    STREAM_RESOURCES,
    Fake,
    Run,
    Tap,
    configured_catalog,
)

ALL_STREAMS = sorted(STREAM_RESOURCES)


def descriptor(name: str, namespace: str | None) -> dict:
    return {"name": name} if namespace is None else {"name": name, "namespace": namespace}


def assert_same_descriptor(got: dict, name: str, namespace: str | None, what: str, run: Run) -> None:
    """`got` names the configured stream exactly: same name, same namespace; no namespace (absent,
    or null) when the configured catalog has none."""
    normalized = {k: v for k, v in got.items() if not (k == "namespace" and v is None)}
    assert normalized == descriptor(name, namespace), (
        f"{what}: stream descriptor {got} differs from the configured catalog's {descriptor(name, namespace)}"
        f"{run.describe()}"
    )


def assert_states_follow_records(run: Run) -> None:
    """Each STATE of a stream S comes after the records it covers: its sourceStats.recordCount is the
    number of S records since the previous S state; and no S record comes after the last S state."""
    since: dict[str, int] = {}
    states_seen: dict[str, int] = {}
    for number, m in enumerate(run.messages, start=1):
        if m["type"] == "RECORD":
            since[m["record"]["stream"]] = since.get(m["record"]["stream"], 0) + 1
        elif m["type"] == "STATE":
            state = m["state"]
            assert state.get("type") == "STREAM", f"message {number}: STATE of type {state.get('type')!r}, not STREAM"
            name = state["stream"]["stream_descriptor"]["name"]
            count = (state.get("sourceStats") or {}).get("recordCount")
            assert count is not None, f"message {number}: STATE of {name} without sourceStats.recordCount"
            assert count == since.get(name, 0), (
                f"message {number}: STATE of {name} says recordCount {count}, but {since.get(name, 0)} {name} "
                f"records came since its previous STATE{run.describe()}"
            )
            since[name] = 0
            states_seen[name] = states_seen.get(name, 0) + 1
    trailing = {s: n for s, n in since.items() if n}
    assert not trailing, f"records after the last STATE of their stream: {trailing}{run.describe()}"
    for stream in run.record_counts():
        assert states_seen.get(stream), f"stream {stream} has records but no STATE{run.describe()}"


def assert_status_sequence(run: Run, streams: list[str], namespace: str | None = None, final: dict | None = None):
    """Per configured stream: STARTED first, RUNNING before its first record, one final status last
    (COMPLETE unless `final` says otherwise); its records come between STARTED and the final status."""
    final = final or {}
    phase: dict[str, str] = {}
    for number, m in enumerate(run.messages, start=1):
        if m["type"] == "TRACE" and m["trace"]["type"] == "STREAM_STATUS":
            st = m["trace"]["stream_status"]
            name, status = st["stream_descriptor"]["name"], st["status"]
            assert name in streams, f"message {number}: STREAM_STATUS for unconfigured stream {name}{run.describe()}"
            before = phase.get(name)
            if status == "STARTED":
                assert before is None, f"message {number}: {name} STARTED twice or after {before}{run.describe()}"
            elif status == "RUNNING":
                assert before in ("STARTED", "RUNNING"), (
                    f"message {number}: {name} RUNNING after {before}{run.describe()}"
                )
            else:
                assert before in ("STARTED", "RUNNING"), (
                    f"message {number}: {name} {status} after {before}{run.describe()}"
                )
            phase[name] = status
        elif m["type"] == "RECORD":
            name = m["record"]["stream"]
            assert phase.get(name) == "RUNNING", (
                f"message {number}: a {name} record while its status is {phase.get(name)} "
                f"(expected RUNNING: STARTED, then RUNNING before the first record){run.describe()}"
            )
    for name in streams:
        want = final.get(name, "COMPLETE")
        assert phase.get(name) == want, f"stream {name} ended with status {phase.get(name)}, not {want}{run.describe()}"


def state_text_as_pyairbyte_writes(states: list[dict]) -> str:
    """The state file PyAirbyte writes: each state message as its pydantic model dumps it (null
    namespace, data, destinationStats, rejectedRecordCount) and, for a state it loaded back from its
    cache, `"global_": null` twice in one object; joined by "\\n, ". Written by hand: json.dumps
    cannot repeat a key."""
    parts = []
    for s in states:
        d = s["stream"]["stream_descriptor"]
        count = float((s.get("sourceStats") or {}).get("recordCount") or 0)
        parts.append(
            '{"type":"STREAM","stream":{"stream_descriptor":{"name":%s,"namespace":%s},"stream_state":%s},'
            '"global_":null,"data":null,"sourceStats":{"recordCount":%s,"rejectedRecordCount":null},'
            '"destinationStats":null,"global_":null,"unknown_future_key":{"x":[1,null]}}'
            % (json.dumps(d["name"]), json.dumps(d.get("namespace")), json.dumps(s["stream"]["stream_state"]), count)
        )
    return "[" + "\n, ".join(parts) + "]"


# --------------------------------------------------------------------------------------------
# Shared runs (the session fake is never changed)


@pytest.fixture(scope="session")
def full_reads(session_tap: Tap, fake: Fake, discovered: dict) -> tuple[Run, Run]:
    """An incremental read of every stream without --state, then one with its final states."""
    catalog = configured_catalog(discovered, ALL_STREAMS)
    first = session_tap.read(fake.config(), catalog)
    assert first.returncode == 0, f"read of every stream failed{first.describe()}"
    second = session_tap.read(fake.config(), catalog, state=first.final_states())
    assert second.returncode == 0, f"read with the final state failed{second.describe()}"
    return first, second


# --------------------------------------------------------------------------------------------
# (a) Every line of every command is an AirbyteMessage


def test_every_stdout_line_of_every_command_is_an_airbyte_message(
    session_tap: Tap, fake: Fake, full_reads: tuple[Run, Run]
):
    runs = [
        session_tap.spec(),
        session_tap.check(fake.config()),
        session_tap.discover(fake.config()),
        *full_reads,
    ]
    for run in runs:
        assert run.returncode == 0, f"command failed{run.describe()}"
        messages = run.messages  # validates every line
        assert messages, f"no output{run.describe()}"
    kinds = {m["type"] for run in runs for m in run.messages}
    assert {"SPEC", "CONNECTION_STATUS", "CATALOG", "RECORD", "STATE", "TRACE"} <= kinds, kinds


def test_read_of_every_stream_copies_what_the_fake_holds(fake: Fake, full_reads: tuple[Run, Run]):
    first, _ = full_reads
    want = {stream: fake.count(stream) for stream in ALL_STREAMS}
    assert first.record_counts() == want, f"records per stream differ from the fake's objects{first.describe()}"
    assert_states_follow_records(first)
    assert_status_sequence(first, ALL_STREAMS)


def test_read_with_the_final_state_reads_nothing_new(full_reads: tuple[Run, Run]):
    _, second = full_reads
    assert second.record_counts() == {}, (
        f"an incremental read with the last run's state re-read records (nothing changed; lookback_window 0)"
        f"{second.describe()}"
    )
    assert_states_follow_records(second)
    assert_status_sequence(second, ALL_STREAMS)
    assert {s["stream"]["stream_descriptor"]["name"] for s in second.final_states()} == set(ALL_STREAMS), (
        f"the read with a state should end with a STATE for every stream{second.describe()}"
    )


# --------------------------------------------------------------------------------------------
# (b) spec


def test_spec_needs_no_config_and_is_spec_json(tap: Tap):
    run = tap.spec()
    assert run.returncode == 0, f"spec failed{run.describe()}"
    specs = run.of_type("SPEC")
    assert len(specs) == 1 and len(run.messages) == 1, f"spec must print exactly one SPEC line{run.describe()}"
    spec = specs[0]
    assert spec["connectionSpecification"] == json.loads(SPEC_JSON.read_text()), (
        "connectionSpecification differs from spec.json"
    )
    props = spec["connectionSpecification"]["properties"]
    assert props["client_secret"].get("airbyte_secret") is True, "client_secret must be airbyte_secret: true"
    assert spec.get("supportsIncremental") is True, f"supportsIncremental must be true: {spec.get('supportsIncremental')!r}"


# --------------------------------------------------------------------------------------------
# (c) check


def connection_status(run: Run) -> dict:
    assert run.returncode == 0, f"check must exit 0, also when FAILED{run.describe()}"
    statuses = run.of_type("CONNECTION_STATUS")
    assert len(statuses) == 1, f"check must print exactly one CONNECTION_STATUS{run.describe()}"
    others = {m["type"] for m in run.messages} - {"CONNECTION_STATUS", "LOG"}
    assert not others, f"check printed {others} messages besides CONNECTION_STATUS and LOG{run.describe()}"
    return statuses[0]


def test_check_good_key_succeeds(tap: Tap, fake: Fake):
    status = connection_status(tap.check(fake.config()))
    assert status["status"] == "SUCCEEDED", status


def test_check_wrong_key_fails_with_stripes_message(tap: Tap, fake: Fake):
    status = connection_status(tap.check(fake.config(client_secret="sk_test_wrong")))
    assert status["status"] == "FAILED", status
    assert "Invalid API Key provided" in (status.get("message") or ""), (
        f"the message should carry Stripe's own (401 'Invalid API Key provided: …'): {status}"
    )
    assert "sk_test_wrong" not in json.dumps(status), "the key must never be printed"


def test_check_unreachable_base_url_fails(tap: Tap):
    started = time.monotonic()
    run = tap.check({"client_secret": FAKE_KEY, "base_url": "http://127.0.0.1:9", "request_timeout": 5})
    status = connection_status(run)
    assert status["status"] == "FAILED", status
    assert status.get("message"), f"a FAILED check must say why: {status}"
    assert time.monotonic() - started < 60, "check of an unreachable base_url took over a minute"


@pytest.mark.parametrize(
    "config",
    [
        pytest.param({"start_date": "2024-01-01T00:00:00Z"}, id="missing-client_secret"),
        pytest.param({"client_secret": FAKE_KEY, "start_date": "yesterday"}, id="bad-start_date"),
        pytest.param("{not json", id="not-json"),
    ],
)
def test_check_invalid_config_fails_with_exit_0(tap: Tap, fake: Fake, config):
    if isinstance(config, dict):
        config = {**config, "base_url": fake.base_url}
    status = connection_status(tap.check(config))
    assert status["status"] == "FAILED", status
    assert status.get("message"), f"a FAILED check must say why: {status}"


def test_check_key_without_some_permissions_succeeds_naming_them(tap: Tap, fresh_fake: Fake):
    fresh_fake.forbid("/v1/charges")
    status = connection_status(tap.check(fresh_fake.config()))
    assert status["status"] == "SUCCEEDED", f"a key refused (403) on some streams can still sync the others: {status}"
    assert "charges" in (status.get("message") or ""), f"the message should name the refused stream: {status}"


# --------------------------------------------------------------------------------------------
# (d) discover


def test_discover_streams_are_incremental_with_cursor_and_key(discovered: dict):
    streams = {s["name"]: s for s in discovered["streams"]}
    # Every stream of the registry (one schema file each in catalog/), the ten synced above among them.
    assert sorted(streams) == sorted(p.stem for p in (REPO / "catalog").glob("*.json"))
    assert set(ALL_STREAMS) <= set(streams)
    for name, s in streams.items():
        props = s["json_schema"].get("properties") or {}
        if "created" not in props and "updated" not in props:
            # No timestamp and no events (payment links): read whole every run, full refresh only.
            assert s["supported_sync_modes"] == ["full_refresh"], (name, s["supported_sync_modes"])
            continue
        assert set(s["supported_sync_modes"]) == {"full_refresh", "incremental"}, (name, s["supported_sync_modes"])
        assert s.get("source_defined_cursor") is True, (name, "source_defined_cursor")
        cursor = s.get("default_cursor_field")
        assert isinstance(cursor, list) and cursor and all(isinstance(c, str) for c in cursor), (name, cursor)
        assert cursor[0] in props, f"{name}: default_cursor_field {cursor} is not a property of its json_schema"
        key = s.get("source_defined_primary_key")
        assert isinstance(key, list) and key and all(isinstance(k, list) and k for k in key), (name, key)
        for path in key:
            assert path[0] in props, f"{name}: primary key {path} is not a property of its json_schema"


# --------------------------------------------------------------------------------------------
# (e) read semantics


def test_read_only_configured_streams(tap: Tap, fake: Fake, discovered: dict):
    streams = ["coupons", "customers", "invoice_line_items"]
    run = tap.read(fake.config(), configured_catalog(discovered, streams))
    assert run.returncode == 0, f"read failed{run.describe()}"
    assert run.record_counts() == {s: fake.count(s) for s in streams}, f"records per stream{run.describe()}"
    named = {s["stream"]["stream_descriptor"]["name"] for s in run.of_type("STATE")}
    named |= {name for name, _ in run.statuses()}
    named |= {e["error"]["stream_descriptor"]["name"] for e in run.traces("ERROR") if e["error"].get("stream_descriptor")}
    assert named == set(streams), f"STATE/TRACE messages name {sorted(named)}, configured {streams}{run.describe()}"
    assert not run.traces("ERROR"), f"TRACE ERROR in a successful read{run.describe()}"
    assert_states_follow_records(run)
    assert_status_sequence(run, streams)


@pytest.mark.parametrize("namespace", [None, "stripe_raw"], ids=["no-namespace", "with-namespace"])
def test_read_descriptors_equal_the_configured_catalog(tap: Tap, fake: Fake, discovered: dict, namespace):
    streams = ["coupons", "disputes"]
    run = tap.read(fake.config(), configured_catalog(discovered, streams, namespace=namespace))
    assert run.returncode == 0, f"read failed{run.describe()}"
    statuses = run.traces("STREAM_STATUS")
    assert statuses, f"no STREAM_STATUS{run.describe()}"
    for t in statuses:
        d = t["stream_status"]["stream_descriptor"]
        assert_same_descriptor(d, d["name"], namespace, "STREAM_STATUS", run)
    assert {t["stream_status"]["stream_descriptor"]["name"] for t in statuses} == set(streams)
    for s in run.of_type("STATE"):
        d = s["stream"]["stream_descriptor"]
        assert_same_descriptor(d, d["name"], namespace, "STATE", run)
    for r in run.records():
        assert r.get("namespace") == namespace, (
            f"a {r['stream']} RECORD has namespace {r.get('namespace')!r}, configured {namespace!r}{run.describe()}"
        )
    assert_status_sequence(run, streams, namespace)


def test_full_refresh_ignores_the_state(tap: Tap, fake: Fake, discovered: dict):
    streams = ["coupons", "customers"]
    first = tap.read(fake.config(), configured_catalog(discovered, streams))
    assert first.returncode == 0, f"read failed{first.describe()}"
    state = first.final_states()
    assert len(state) == 2, f"expected a final STATE per stream{first.describe()}"
    incremental = tap.read(fake.config(), configured_catalog(discovered, streams), state=state)
    assert incremental.returncode == 0, f"read failed{incremental.describe()}"
    assert incremental.record_counts() == {}, f"incremental read with the final state re-read records{incremental.describe()}"
    full = tap.read(fake.config(), configured_catalog(discovered, streams, sync_mode="full_refresh"), state=state)
    assert full.returncode == 0, f"full_refresh read failed{full.describe()}"
    assert full.record_counts() == {s: fake.count(s) for s in streams}, (
        f"a full_refresh read must read everything whatever the state{full.describe()}"
    )
    assert_states_follow_records(full)
    assert_status_sequence(full, streams)


@pytest.fixture
def connect_fake(fake_bin, tmp_path) -> Iterator[Fake]:
    """A Connect platform with two connected accounts, each with data of its own."""
    f = Fake(fake_bin, tmp_path / "fake", extra_args=("--connected-accounts", "2"))
    yield f
    f.close()


def test_connected_accounts_are_read_with_state_per_account(tap: Tap, connect_fake: Fake, discovered: dict):
    fake = connect_fake
    streams = ["customers", "charges"]
    config = fake.config(connected_accounts="all")
    first = tap.read(config, configured_catalog(discovered, streams))
    assert first.returncode == 0, f"read failed{first.describe()}"
    own = fake.get("/_fake/health")["account"]
    connected = sorted(fake.stripe_ids("/v1/accounts"))
    assert len(connected) == 2
    for stream, path in (("customers", "/v1/customers"), ("charges", "/v1/charges")):
        got: dict[str, set] = {}
        for rec in first.records(stream):
            got.setdefault(rec["data"]["account"], set()).add(rec["data"]["id"])
        for account in [own, *connected]:
            want = fake.stripe_ids(path, None if account == own else account)
            assert got.get(account) == want, f"{stream} of {account}{first.describe()}"
    states = first.final_states()
    for s in states:
        per_account = s["stream"]["stream_state"]["accounts"]
        assert set(per_account) == {own, *connected}, s
    again = tap.read(config, configured_catalog(discovered, streams), state=states)
    assert again.returncode == 0, f"read failed{again.describe()}"
    assert again.record_counts() == {}, f"nothing new in any account{again.describe()}"


def test_state_input_empty_array_is_a_first_sync(tap: Tap, fake: Fake, discovered: dict):
    streams = ["coupons", "customers"]
    run = tap.read(fake.config(), configured_catalog(discovered, streams), state="[]")
    assert run.returncode == 0, f"read with --state [] failed{run.describe()}"
    assert run.record_counts() == {s: fake.count(s) for s in streams}, f"records per stream{run.describe()}"
    assert_states_follow_records(run)


def test_state_input_as_pyairbyte_writes_it(tap: Tap, fake: Fake, discovered: dict):
    streams = ["coupons", "customers"]
    catalog = configured_catalog(discovered, streams)
    first = tap.read(fake.config(), catalog)
    assert first.returncode == 0, f"read failed{first.describe()}"
    text = state_text_as_pyairbyte_writes(first.final_states())
    assert text.count('"global_":null') == 4 and json.loads(text)  # two per object, and valid JSON
    run = tap.read(fake.config(), catalog, state=text)
    assert run.returncode == 0, f"read with PyAirbyte's state file failed\nstate file:\n{text}{run.describe()}"
    assert run.record_counts() == {}, (
        f"the state written the PyAirbyte way was not honoured (records re-read)\nstate file:\n{text}{run.describe()}"
    )
    assert_status_sequence(run, streams)


def test_forbidden_stream_is_incomplete_others_complete(tap: Tap, fresh_fake: Fake, discovered: dict):
    fresh_fake.forbid("/v1/charges")
    streams = ["charges", "coupons", "customers"]
    run = tap.read(fresh_fake.config(), configured_catalog(discovered, streams))
    assert run.returncode == 3, f"a read with a refused (403) stream must exit 3 (README: exit codes){run.describe()}"
    errors = run.traces("ERROR")
    charges_errors = [e for e in errors if (e["error"].get("stream_descriptor") or {}).get("name") == "charges"]
    assert charges_errors, f"no TRACE ERROR with stream_descriptor charges{run.describe()}"
    for e in charges_errors:
        assert_same_descriptor(e["error"]["stream_descriptor"], "charges", None, "TRACE ERROR", run)
        assert e["error"].get("failure_type") == "config_error", (
            f"a refused stream (403: the key's permissions) is a config_error: {e['error']}"
        )
        assert e["error"].get("message"), e
    for e in errors:
        assert e["error"].get("failure_type"), f"TRACE ERROR without failure_type: {e['error']}"
        named = (e["error"].get("stream_descriptor") or {}).get("name")
        assert named in (None, "charges"), f"TRACE ERROR for stream {named}, which was readable: {e['error']}"
    assert_status_sequence(run, streams, final={"charges": "INCOMPLETE"})
    counts = run.record_counts()
    assert counts.get("charges", 0) == 0, f"charges records despite the 403{run.describe()}"
    assert {s: counts.get(s, 0) for s in ["coupons", "customers"]} == {
        s: fresh_fake.count(s) for s in ["coupons", "customers"]
    }, f"the readable streams must be read in full{run.describe()}"
    assert_states_follow_records(run)


# --------------------------------------------------------------------------------------------
# (f) PyAirbyte end to end

PYAIRBYTE_STREAMS = ["customers", "invoices", "invoice_line_items"]


@pytest.fixture(scope="session")
def ab():
    import airbyte
    import airbyte.constants

    assert airbyte.constants.AIRBYTE_OFFLINE_MODE, "AIRBYTE_OFFLINE_MODE must be set before `import airbyte`"
    return airbyte


def pyairbyte_source(ab, tap_bin, config: dict, streams=PYAIRBYTE_STREAMS):
    return ab.get_source("source-stripe", local_executable=str(tap_bin), config=config, streams=streams)


def per_stream_counts(result) -> dict[str, int] | None:
    """Records read per stream in one PyAirbyte read: ReadResult keeps them in its progress tracker
    (no public accessor in PyAirbyte 0.71; `processed_records` is the total)."""
    tracker = getattr(result, "_progress_tracker", None)
    counts = getattr(tracker, "stream_read_counts", None)
    return None if counts is None else {k: v for k, v in counts.items() if v}


def test_pyairbyte_check_good_wrong_and_partly_forbidden_keys(ab, tap_bin, fresh_fake: Fake):
    from airbyte import exceptions as exc

    pyairbyte_source(ab, tap_bin, fresh_fake.config()).check()  # raises unless SUCCEEDED
    with pytest.raises(exc.AirbyteConnectorCheckFailedError) as failed:
        pyairbyte_source(ab, tap_bin, fresh_fake.config(client_secret="sk_test_wrong")).check()
    assert "Invalid API Key provided" in str(failed.value.context or failed.value), str(failed.value)
    fresh_fake.forbid("/v1/charges")
    pyairbyte_source(ab, tap_bin, fresh_fake.config()).check()  # a 403 on charges only: still SUCCEEDED


def test_pyairbyte_reads_all_then_only_what_changed(ab, tap_bin, fresh_fake: Fake, tmp_path):
    source = pyairbyte_source(ab, tap_bin, fresh_fake.config())
    source.check()
    cache = ab.new_local_cache("stripe_e2e", cache_dir=tmp_path / "cache")

    first = source.read(cache=cache)
    want = {s: fresh_fake.count(s) for s in PYAIRBYTE_STREAMS}
    assert {s: len(first[s]) for s in PYAIRBYTE_STREAMS} == want, "rows in the cache after the first read"
    assert first.processed_records == sum(want.values()), (
        f"first read processed {first.processed_records} records, the fake holds {want}"
    )

    customer = fresh_fake.objects("customer")[0]
    new_email = f"changed-{int(time.time())}@example.com"
    fresh_fake.update("customer", customer["id"], {"email": new_email})
    time.sleep(1.1)  # the customer.updated event must be older than the next sync's start second

    second = source.read(cache=cache)  # incremental: PyAirbyte passes the state kept in the cache
    counts = per_stream_counts(second)
    assert second.processed_records == 1, (
        f"the second read should read only the changed customer, read {second.processed_records} "
        f"records (per stream: {counts})"
    )
    assert counts is not None, "PyAirbyte's ReadResult no longer keeps per-stream counts where per_stream_counts looks"
    assert counts == {"customers": 1}, f"records per stream in the second read: {counts}"
    rows = cache["customers"].to_pandas()
    assert len(rows) == want["customers"], f"customers in the cache after the second read: {len(rows)}"
    emails = rows.loc[rows["id"] == customer["id"], "email"].tolist()
    assert emails == [new_email], f"customer {customer['id']} in the cache has email {emails}, expected [{new_email!r}]"
