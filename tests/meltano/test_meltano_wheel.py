"""tap-stripe in Meltano the way a Meltano user gets it: from its Hub definition and its wheel.

Run (scripts/test does it all):
    scripts/meltano-env.sh && scripts/wheel-env.sh && scripts/wheel.sh && cargo build --bins
    TAP_STRIPE_WHEEL=target/wheel/dist/<the wheel> .venv-meltano/bin/python -m pytest tests/meltano -q

A fresh Meltano project (the loaders of meltano/meltano.yml, run from .venv-targets) and a fake
Stripe server of its own; then, as a user would:
  1. `meltano add extractor tap-stripe --from-ref <the Hub definition>`, its pip_url pointing at the
     wheel (TAP_STRIPE_WHEEL, default: the one in target/wheel/dist/), then `meltano install`:
     Meltano creates the plugin's virtualenv and installs the wheel, whose `tap-stripe` it runs;
  2. `meltano config set tap-stripe ...`, `meltano select`, `meltano config test tap-stripe`;
  3. `meltano run tap-stripe target-jsonl` twice: everything, then (after one change in the fake)
     only the changed customer, from the state Meltano stored;
  4. structured logging: Meltano parses the tap's stderr (its `--log-format=json` events carry the
     tap's levels and `metric_info`); `meltano invoke tap-stripe --test` prints one record per stream.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
import yaml

from test_meltano import (
    EXAMPLE_PROJECT, PLUGIN, STATE_ID_JSONL, TARGET_DUCKDB, TARGET_JSONL, Project, _require, _tail,
    jsonl_counts, start_fake, stop_fake,
)

REPO = Path(__file__).resolve().parents[2]
HUB_DEFINITION = REPO / "meltano" / "hub" / "extractors" / "tap-stripe" / "tap-stripe-rs.yml"
STREAMS = ["customers", "invoices", "invoice_line_items"]
RESOURCES = {"customers": "customer", "invoices": "invoice", "invoice_line_items": "line_item"}


def the_wheel() -> Path:
    given = os.environ.get("TAP_STRIPE_WHEEL")
    found = [Path(given)] if given else sorted((REPO / "target" / "wheel" / "dist").glob("*.whl"))
    if len(found) != 1 or not found[0].is_file():
        pytest.fail(f"no wheel ({found}): build it with scripts/wheel.sh (or set TAP_STRIPE_WHEEL)", pytrace=False)
    return found[0].resolve()


@pytest.fixture(scope="module")
def wheel_fake(tmp_path_factory):
    server = start_fake(tmp_path_factory.mktemp("wheel-fake"))
    yield server
    stop_fake(server)


@pytest.fixture(scope="module")
def installed(wheel_fake, tmp_path_factory) -> Project:
    """A project with tap-stripe added from the Hub definition and installed from the wheel."""
    wheel = the_wheel()
    _require(TARGET_JSONL, "run scripts/meltano-env.sh (or set MELTANO_TARGETS_DIR)")
    root = tmp_path_factory.mktemp("meltano-wheel-project")
    project = Project(root, wheel_fake)
    config = yaml.safe_load(EXAMPLE_PROJECT.read_text())
    # The extractor comes from `meltano add`; the loaders are the ones scripts/meltano-env.sh installed.
    config["plugins"]["extractors"] = []
    for loader, executable in zip(config["plugins"]["loaders"], (TARGET_JSONL, TARGET_DUCKDB)):
        loader.pop("pip_url", None)
        loader["executable"] = str(executable)
    (root / "meltano.yml").write_text(yaml.safe_dump(config, sort_keys=False))

    # The Hub definition as published (pip_url: tap-stripe-rs), installing this wheel instead.
    definition = yaml.safe_load(HUB_DEFINITION.read_text())
    assert definition["pip_url"] == "tap-stripe-rs" and definition["executable"] == "tap-stripe"
    definition["pip_url"] = str(wheel)
    ref = root / "tap-stripe-rs.yml"
    ref.write_text(yaml.safe_dump(definition, sort_keys=False))
    project.meltano("add", "extractor", PLUGIN, "--from-ref", str(ref), "--no-install")
    added = yaml.safe_load((root / "meltano.yml").read_text())["plugins"]["extractors"]
    assert [p["name"] for p in added] == [PLUGIN], added
    assert added[0].get("pip_url") == str(wheel) and added[0].get("variant") == "tap-stripe-rs", added[0]

    installing = project.meltano("install", timeout=600)
    executable = root / ".meltano" / "extractors" / PLUGIN / "venv" / "bin" / "tap-stripe"
    assert executable.is_file(), f"meltano install did not install the wheel's tap-stripe\n{_tail(installing.stderr)}"

    # Settings as a user sets them (meltano.yml), the secret from the environment (Project.env).
    for name, value in (("base_url", wheel_fake.base_url), ("max_requests_per_second", "1000"),
                        ("lookback_window", "0")):
        project.meltano("config", "set", PLUGIN, name, value)
    for stream in STREAMS:
        project.meltano("select", PLUGIN, stream, "*")
    return project


def test_meltano_installs_the_wheel_and_runs_its_executable(installed: Project):
    executable = installed.root / ".meltano" / "extractors" / PLUGIN / "venv" / "bin" / "tap-stripe"
    listed = installed.meltano("invoke", PLUGIN, "--version")
    version = [line for line in listed.stdout.splitlines() if line.startswith("tap-stripe ")]
    assert version, f"`meltano invoke tap-stripe --version`: {listed.stdout}"
    about = json.loads(installed.meltano("invoke", PLUGIN, "--about", "--format=json").stdout)
    assert about["name"] == "tap-stripe" and {"test", "structured-logging"} <= set(about["capabilities"]), about
    assert os.access(executable, os.X_OK)


def test_meltano_config_test(installed: Project):
    result = installed.meltano("config", "test", PLUGIN)
    assert "Plugin configuration is valid" in result.stdout + result.stderr, _tail(result.stderr)
    # A key the fake refuses: the test fails, naming Stripe's answer.
    bad = installed.meltano("config", "test", PLUGIN, check=False, TAP_STRIPE_CLIENT_SECRET="sk_test_wrong")
    assert bad.returncode != 0, bad.stdout
    assert "Plugin configuration is invalid" in bad.stdout + bad.stderr, _tail(bad.stderr)


def test_two_meltano_runs_with_state(installed: Project):
    fake = installed.fake
    out1 = installed.root / "jsonl-run1"
    run1 = installed.meltano("--log-format=json", "run", PLUGIN, "target-jsonl", TARGET_JSONL_DESTINATION_PATH=str(out1))
    written1 = {s: len(rows) for s, rows in jsonl_counts(out1).items()}
    want = {s: len(fake.objects(r)) for s, r in RESOURCES.items()}
    assert written1 == want, f"run 1 wrote {written1}, the fake holds {want}\n{_tail(run1.stderr)}"
    stored1 = json.loads(installed.meltano("state", "get", STATE_ID_JSONL).stdout)
    bookmarks1 = stored1["singer_state"]["bookmarks"]
    assert all({"created", "updated"} <= set(bookmarks1.get(s, {})) for s in STREAMS), bookmarks1

    # Meltano parsed the tap's structured log lines: its JSON events carry the tap's own levels,
    # logger and metric points (a line Meltano could not parse is one `info` event with the raw text).
    events = [json.loads(line) for line in run1.stderr.splitlines() if line.startswith("{")]
    tap_events = [e for e in events if e.get("name") == PLUGIN or e.get("cmd_type") == "extractor"]
    parsed = [e for e in tap_events if e.get("plugin_logger", "").startswith("tap-stripe")]
    assert parsed, f"no tap line parsed as structured logging:\n{_tail(run1.stderr)}"
    metrics = [e for e in parsed if e.get("metric_info")]
    counted = {}
    for e in metrics:
        if e["metric_info"]["metric"] == "record_count":
            stream = e["metric_info"]["tags"]["endpoint"]
            counted[stream] = counted.get(stream, 0) + e["metric_info"]["value"]
    assert counted == want, f"record_count points Meltano parsed: {counted}"
    assert any("customers: " in str(e.get("event")) and "records" in str(e.get("event")) for e in parsed), (
        "the tap's summary line, as a parsed event"
    )
    assert not any(str(e.get("event", "")).startswith('{"level"') for e in tap_events), "a JSON line left unparsed"

    # One change, then run 2: only that customer, from the stored state.
    customer = fake.objects("customer")[0]
    new_email = f"wheel-{int(time.time())}@example.com"
    fake.update("customer", customer["id"], {"email": new_email})
    time.sleep(1.1)
    out2 = installed.root / "jsonl-run2"
    run2 = installed.meltano("run", PLUGIN, "target-jsonl", TARGET_JSONL_DESTINATION_PATH=str(out2))
    written2 = jsonl_counts(out2)
    assert {s: len(r) for s, r in written2.items()} == {"customers": 1}, f"run 2 wrote {written2}\n{_tail(run2.stderr)}"
    assert written2["customers"][0]["id"] == customer["id"] and written2["customers"][0]["email"] == new_email
    stored2 = json.loads(installed.meltano("state", "get", STATE_ID_JSONL).stdout)
    assert stored2["singer_state"]["bookmarks"]["customers"]["updated"] > bookmarks1["customers"]["updated"]


def test_meltano_invoke_test_modes(installed: Project):
    result = installed.meltano("invoke", PLUGIN, "--test")
    messages = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    records = [m for m in messages if m["type"] == "RECORD"]
    assert sorted(m["stream"] for m in records) == sorted(STREAMS), f"one record per selected stream: {records}"
    assert not [m for m in messages if m["type"] == "STATE"], "a test writes no STATE"
    schema = installed.meltano("invoke", PLUGIN, "--test=schema")
    kinds = {json.loads(line)["type"] for line in schema.stdout.splitlines() if line.strip()}
    assert kinds == {"SCHEMA"}, schema.stdout[:500]
