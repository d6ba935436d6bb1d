"""metadata.yaml, Airbyte's connector metadata: valid in Airbyte's own format (the JSON Schema and
the pydantic model of ConnectorMetadataDefinitionV0 that the airbyte-connector-models package
ships), and true of this connector: its version, image labels, SPEC, base image, hosts and streams.
"""

from __future__ import annotations

import json
import re
import uuid
from importlib import metadata as dist_metadata
from pathlib import Path
from urllib.parse import urlparse

import jsonschema
import pytest
import yaml

import dockerfile_stage
from conftest import REPO, SPEC_JSON, Tap

METADATA = REPO / "metadata.yaml"
# Airbyte's own source-stripe (airbyte/source-stripe): a different connector, whose id this one must
# not take (the registry and the platform key connector definitions by it).
AIRBYTE_SOURCE_STRIPE_ID = "e094cb9a-26de-4645-8761-65c0c425d1de"


def crate_field(name: str) -> str:
    """A field of Cargo.toml's [package] table."""
    text = (REPO / "Cargo.toml").read_text()
    package = re.search(r"^\[package\]\n(.*?)(?=^\[|\Z)", text, re.M | re.S)
    assert package, "Cargo.toml has no [package] table"
    found = re.search(rf'^{name}\s*=\s*"([^"]*)"', package.group(1), re.M)
    assert found, f"Cargo.toml [package] has no {name}"
    return found.group(1)


@pytest.fixture(scope="module")
def meta() -> dict:
    return yaml.safe_load(METADATA.read_text())


@pytest.fixture(scope="module")
def data(meta) -> dict:
    return meta["data"]


@pytest.fixture(scope="module")
def spec_message(session_tap: Tap) -> dict:
    run = session_tap.spec()
    assert run.returncode == 0, f"spec failed{run.describe()}"
    return run.of_type("SPEC")[0]


def metadata_json_schema() -> dict:
    """ConnectorMetadataDefinitionV0.json as the installed airbyte-connector-models ships it."""
    files = dist_metadata.files("airbyte-connector-models") or []
    found = [f for f in files if f.name == "ConnectorMetadataDefinitionV0.json"]
    assert len(found) == 1, f"airbyte-connector-models ships {len(found)} ConnectorMetadataDefinitionV0.json files"
    return json.loads(Path(found[0].locate()).read_text())


def test_metadata_is_valid_against_airbytes_json_schema(meta):
    schema = metadata_json_schema()
    validator = jsonschema.Draft7Validator(schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(meta)]
    assert not errors, "metadata.yaml does not follow ConnectorMetadataDefinitionV0:\n" + "\n".join(errors)


def test_metadata_is_valid_for_airbytes_pydantic_model(meta):
    from airbyte_connector_models.metadata.v0.connector_metadata_definition_v0 import (
        ConnectorMetadataDefinitionV0,
    )

    model = ConnectorMetadataDefinitionV0.model_validate(meta)
    # Every key understood as written: the model dumps back to the same document.
    assert model.model_dump(mode="json", by_alias=True, exclude_unset=True) == meta


def test_metadata_identity(data):
    assert data["connectorType"] == "source"
    assert data["connectorSubtype"] == "api"
    assert str(uuid.UUID(data["definitionId"])) == data["definitionId"], "definitionId must be a lowercase UUID"
    assert data["definitionId"] != AIRBYTE_SOURCE_STRIPE_ID, "definitionId must not be Airbyte's source-stripe's"
    assert data["license"] == crate_field("license"), "license differs from Cargo.toml's"
    assert "language:rust" in data["tags"]


def test_metadata_version_is_the_crates_and_the_binarys(data, session_tap: Tap):
    assert data["dockerImageTag"] == crate_field("version"), "dockerImageTag differs from Cargo.toml's version"
    run = session_tap.run("--version")
    assert run.returncode == 0 and run.stdout.strip() == f"tap-stripe {data['dockerImageTag']}", run.describe()


def test_metadata_matches_the_dockerfiles_labels_and_base(data):
    stage = dockerfile_stage.parse()
    assert stage.labels.get("io.airbyte.name") == data["dockerRepository"], (
        "the Dockerfile's io.airbyte.name label must be metadata.yaml's dockerRepository (Airbyte's CAT checks it)"
    )
    assert stage.labels.get("io.airbyte.version") == data["dockerImageTag"], (
        "the Dockerfile's io.airbyte.version label must be metadata.yaml's dockerImageTag (Airbyte's CAT checks it)"
    )
    base = stage.base if "/" in stage.base else f"library/{stage.base}"
    assert data["connectorBuildOptions"]["baseImage"] == f"docker.io/{base}", (
        f"connectorBuildOptions.baseImage must be the Dockerfile's runtime base ({stage.base})"
    )


def test_metadata_documentation_url_is_the_specs(data, spec_message):
    assert data["documentationUrl"] == spec_message["documentationUrl"]


def test_metadata_allowed_hosts_are_the_api_host(data):
    default = json.loads(SPEC_JSON.read_text())["properties"]["base_url"]["default"]
    assert data["allowedHosts"]["hosts"] == [urlparse(default).hostname], (
        "allowedHosts: the tap talks to base_url's host only (Stripe's API by default)"
    )


def test_metadata_suggested_streams_exist(data, discovered: dict):
    names = {s["name"] for s in discovered["streams"]}
    suggested = data["suggestedStreams"]["streams"]
    assert suggested and set(suggested) <= names, f"not streams of the catalog: {sorted(set(suggested) - names)}"
