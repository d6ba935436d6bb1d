"""PyAirbyte installing tap-stripe from its wheel, as PyAirbyte installs Python connectors.

`get_source(name, pip_url=...)` makes a virtualenv `<install_root>/.venv-<name>` (with uv), installs
the pip_url into it, and runs `<venv>/bin/<name>`: the executable must carry the source's name. The
wheel (`tap-stripe-rs`) installs `tap-stripe`, so the source is named `tap-stripe`.

The wheel: TAP_STRIPE_WHEEL (scripts/test sets it), default the one in target/wheel/dist/
(scripts/wheel.sh builds it). Offline: uv installs the local wheel without an index.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO, Fake

STREAMS = ["customers", "invoices", "invoice_line_items"]


def the_wheel() -> Path:
    given = os.environ.get("TAP_STRIPE_WHEEL")
    found = [Path(given)] if given else sorted((REPO / "target" / "wheel" / "dist").glob("*.whl"))
    if len(found) != 1 or not found[0].is_file():
        pytest.fail(f"no wheel ({found}): build it with scripts/wheel.sh (or set TAP_STRIPE_WHEEL)", pytrace=False)
    return found[0].resolve()


@pytest.fixture
def uv_offline(monkeypatch, tmp_path: Path) -> None:
    """PyAirbyte calls `uv` by name: the one of this virtualenv, offline, with a cache of the test's own."""
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("UV_OFFLINE", "1")
    monkeypatch.setenv("UV_PYTHON_DOWNLOADS", "never")
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "uv-cache"))
    monkeypatch.delenv("AIRBYTE_NO_UV", raising=False)


def test_pyairbyte_installs_the_wheel_and_reads_twice_with_state(fresh_fake: Fake, tmp_path: Path, uv_offline):
    import airbyte as ab
    from airbyte._executors.python import VenvExecutor

    assert ab.constants.AIRBYTE_OFFLINE_MODE, "AIRBYTE_OFFLINE_MODE must be set before `import airbyte` (conftest)"
    root = tmp_path / "connectors"
    source = ab.get_source(
        "tap-stripe",
        pip_url=str(the_wheel()),
        install_root=root,
        use_python=Path(sys.executable),
        config=fresh_fake.config(),
        streams=STREAMS,
    )
    assert isinstance(source.executor, VenvExecutor), type(source.executor)
    executable = root / ".venv-tap-stripe" / "bin" / "tap-stripe"
    assert executable.is_file() and os.access(executable, os.X_OK), f"PyAirbyte did not install {executable}"
    source.check()

    cache = ab.new_local_cache("stripe_wheel", cache_dir=tmp_path / "cache")
    first = source.read(cache=cache)
    want = {s: fresh_fake.count(s) for s in STREAMS}
    assert {s: len(first[s]) for s in STREAMS} == want, "rows in the cache after the first read"
    assert first.processed_records == sum(want.values())

    customer = fresh_fake.objects("customer")[0]
    new_email = f"wheel-{int(time.time())}@example.com"
    fresh_fake.update("customer", customer["id"], {"email": new_email})
    time.sleep(1.1)  # the customer.updated event must be older than the next sync's start second

    second = source.read(cache=cache)  # incremental: the state PyAirbyte keeps in the cache
    assert second.processed_records == 1, f"the second read read {second.processed_records} records, want the one changed"
    rows = cache["customers"].to_pandas()
    assert len(rows) == want["customers"]
    assert rows.loc[rows["id"] == customer["id"], "email"].tolist() == [new_email]


def test_pyairbyte_runs_the_executable_named_like_the_source(fresh_fake: Fake, tmp_path: Path, uv_offline):
    """PyAirbyte runs `bin/<name>`: under another name (`source-stripe`) the wheel's `tap-stripe`
    is not found. README, "Use in Airbyte", says to name the source `tap-stripe`."""
    import airbyte as ab
    from airbyte import exceptions as exc

    with pytest.raises(exc.AirbyteConnectorInstallationError) as failed:
        ab.get_source("source-stripe", pip_url=str(the_wheel()), install_root=tmp_path / "connectors",
                      use_python=Path(sys.executable), config=fresh_fake.config())
    context = getattr(failed.value, "context", None) or {}
    assert "executable could not be found" in str(failed.value), str(failed.value)
    assert str(context.get("connector_path", "")).endswith(".venv-source-stripe/bin/source-stripe"), context
    assert (tmp_path / "connectors" / ".venv-source-stripe" / "bin" / "tap-stripe").is_file(), "the wheel did install"
