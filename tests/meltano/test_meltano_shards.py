"""The recipe of README.md "Many connected accounts: shards": examples/meltano-shards/meltano.yml,
as it is, run by Meltano against the fake Stripe server as a Connect platform.

The example is copied into a temporary folder; the only edits are the ones test_meltano.py makes
to meltano/meltano.yml (the extractor's and the loader's `pip_url` replaced by the binaries under
test, rate ceilings the fake does not need) and `lookback_window: 0`. The fake's URL and key come from the environment (TAP_STRIPE_BASE_URL,
TAP_STRIPE_CLIENT_SECRET), as the example says. Then: both shard jobs (`meltano run
stripe-shard-1-of-2`, `… 2-of-2`) write what one unsharded run of the same extractor writes, the
two disjoint; each keeps its own state ID; a second run of each job reads nothing new (like the
unsharded rerun).

Run: scripts/meltano-env.sh && cargo build --bins && .venv-meltano/bin/python -m pytest tests/meltano -q
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
import yaml

from test_meltano import FAKE_KEY, TAP_BIN, TARGET_JSONL, MELTANO_BIN, Project, _require, jsonl_counts, start_fake, stop_fake

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "meltano-shards"
SHARD_JOBS = ["stripe-shard-1-of-2", "stripe-shard-2-of-2"]
SHARD_EXTRACTORS = ["tap-stripe--shard-1-of-2", "tap-stripe--shard-2-of-2"]
CONNECTED = 12


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    """A fake Stripe platform with connected accounts."""
    server = start_fake(tmp_path_factory.mktemp("fake-platform"), "--connected-accounts", str(CONNECTED))
    yield server
    stop_fake(server)


@pytest.fixture(scope="module")
def shards_project(platform, tmp_path_factory) -> Project:
    _require(TAP_BIN, "build it with `cargo build --bin tap-stripe` (or set TAP_STRIPE_BIN)")
    _require(MELTANO_BIN, "create .venv-meltano with scripts/meltano-env.sh and run pytest with it")
    _require(TARGET_JSONL, "run scripts/meltano-env.sh (or set MELTANO_TARGETS_DIR)")
    root = tmp_path_factory.mktemp("meltano-shards")
    shutil.copytree(EXAMPLE, root, dirs_exist_ok=True)
    config = yaml.safe_load((root / "meltano.yml").read_text())
    extractors = {p["name"]: p for p in config["plugins"]["extractors"]}
    base = extractors["tap-stripe"]
    assert (base.get("pip_url"), base.get("executable")) == ("tap-stripe-rs", "tap-stripe"), base
    base.pop("pip_url")
    base["executable"] = str(TAP_BIN.resolve())
    # The example's rates are for Stripe; the fake on loopback needs no pacing (set here, not from
    # the environment: Meltano 4.4 cannot write a `decimal` setting read from an env var to JSON).
    # Lookback 0: a rerun reads no event twice, so "nothing new" is exact.
    assert base["config"]["max_requests_per_second"] == 50, base["config"]
    base["config"].update(max_requests_per_second=1000, max_requests_per_second_per_endpoint=1000, lookback_window=0)
    for name, shard in zip(SHARD_EXTRACTORS, ["1/2", "2/2"]):
        assert extractors[name] == {"name": name, "inherit_from": "tap-stripe", "config": {"account_shard": shard}}
    (loader,) = config["plugins"]["loaders"]
    loader.pop("pip_url")
    loader["executable"] = str(TARGET_JSONL)
    assert [j["name"] for j in config["jobs"]] == SHARD_JOBS
    (root / "meltano.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    return Project(root, platform)


def rows(folder: Path) -> set[tuple[str, str, str]]:
    """(stream, id, account) of every record target-jsonl wrote into `folder`, each once."""
    seen: list[tuple[str, str, str]] = [
        (stream, r["id"], r.get("account") or "")
        for stream, records in jsonl_counts(folder).items()
        for r in records
    ]
    assert len(seen) == len(set(seen)), f"a record written twice in {folder.name}"
    return set(seen)


def run(project: Project, job: str, out: Path):
    """`meltano run` of a job, or of "<extractor> <loader>" blocks."""
    return project.meltano(
        "run", *job.split(),
        TAP_STRIPE_BASE_URL=project.fake.base_url,
        TAP_STRIPE_CLIENT_SECRET=FAKE_KEY,
        TARGET_JSONL_DESTINATION_PATH=str(out),
    )


def test_two_shard_jobs_write_what_one_run_writes_each_with_its_own_state(shards_project: Project):
    p = shards_project
    time.sleep(1.1)  # a sync reads up to its start, excluded: every object of the fake is older
    whole = p.root / "whole-1"
    run(p, "tap-stripe target-jsonl", whole)
    want = rows(whole)
    accounts = {a for (_, _, a) in want}
    assert len(accounts) == CONNECTED + 1, f"the premise: every account is read ({len(accounts)})"
    assert any(s == "accounts" for (s, _, _) in want), "the premise: the platform's `accounts` stream"

    outs = [p.root / f"{job}-1" for job in SHARD_JOBS]
    logs = [run(p, job, out) for job, out in zip(SHARD_JOBS, outs)]
    got = [rows(out) for out in outs]
    for k, log in enumerate(logs, 1):
        assert f"account_shard {k}/2: this shard reads" in log.stderr, log.stderr[-3000:]
    assert got[0] and got[1], "each shard reads some accounts"
    assert not (got[0] & got[1]), f"both shards read {sorted(got[0] & got[1])[:5]}"
    assert got[0] | got[1] == want, (
        f"missing {sorted(want - (got[0] | got[1]))[:5]}, extra {sorted((got[0] | got[1]) - want)[:5]}"
    )
    assert not any(s == "accounts" for (s, _, _) in got[1]), "the platform's streams are shard 1's"
    shard_accounts = [{a for (_, _, a) in g} for g in got]
    assert not (shard_accounts[0] & shard_accounts[1]), "an account in both shards"

    # Each job's state under its own ID (<environment>:<extractor>-to-<loader>).
    ids = set(p.meltano("state", "list").stdout.split())
    state_ids = [f"prod:{e}-to-target-jsonl" for e in SHARD_EXTRACTORS]
    assert set(state_ids) <= ids, ids
    states = [json.loads(p.meltano("state", "get", s).stdout)["singer_state"] for s in state_ids]
    assert states[0] != states[1]

    # Second runs: nothing new, as an unsharded rerun.
    time.sleep(1.1)
    again = p.root / "whole-2"
    run(p, "tap-stripe target-jsonl", again)
    assert rows(again) == set(), f"the premise: an unsharded rerun reads nothing ({len(rows(again))} records)"
    for job in SHARD_JOBS:
        out = p.root / f"{job}-2"
        run(p, job, out)
        assert rows(out) == set(), f"{job} read again: {sorted(rows(out))[:5]}"
