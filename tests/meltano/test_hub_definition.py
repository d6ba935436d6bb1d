"""The Meltano Hub plugin definition (meltano/hub/extractors/tap-stripe/tap-stripe-rs.yml): it
follows the Hub's published rules (hub_check.py), it says what `tap-stripe --about --format json`
says (capabilities, settings, kinds, secrets, required settings), and the example project
meltano/meltano.yml declares the extractor the same way. Then the checks themselves: each rule
rejects a definition that breaks it.

Run: .venv-meltano/bin/python -m pytest tests/meltano/test_hub_definition.py -q (after cargo build).
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import hub_check
from test_meltano import EXAMPLE_PROJECT, FAKE_KEY, PLUGIN, TAP_BIN, _require

REPO = Path(__file__).resolve().parents[2]
HUB_DEFINITION = REPO / "meltano" / "hub" / "extractors" / "tap-stripe" / "tap-stripe-rs.yml"


def definition() -> dict:
    return yaml.safe_load(HUB_DEFINITION.read_text())


@pytest.fixture(scope="module")
def about() -> dict:
    _require(TAP_BIN, "build it with `cargo build --bin tap-stripe`")
    result = subprocess.run([str(TAP_BIN), "--about", "--format", "json"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def example_plugin() -> dict:
    config = yaml.safe_load(EXAMPLE_PROJECT.read_text())
    (tap,) = [p for p in config["plugins"]["extractors"] if p["name"] == PLUGIN]
    return tap


def test_the_definition_follows_the_hubs_rules():
    assert hub_check.check_definition(definition(), HUB_DEFINITION) == []


def test_the_definition_says_what_about_says(about: dict):
    assert hub_check.check_against_about(definition(), about) == []
    # The Hub's rule, on the tap's side: one of catalog/properties.
    assert "catalog" in about["capabilities"] and "properties" not in about["capabilities"]


def test_the_example_project_declares_the_extractor_as_the_hub_definition_does():
    assert hub_check.check_project_plugin(example_plugin(), definition()) == []


def test_the_checker_command_line(about: dict):
    command = [sys.executable, str(Path(hub_check.__file__)), str(HUB_DEFINITION)]
    ok = subprocess.run([*command, str(TAP_BIN)], capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0 and "matches --about" in ok.stdout, ok.stderr
    rejected = subprocess.run([sys.executable, command[1], str(REPO / "meltano" / "meltano.yml")],
                              capture_output=True, text=True, timeout=60)
    assert rejected.returncode == 1 and "is required" in rejected.stderr, rejected.stderr


def test_option_values_are_values_the_tap_accepts(tmp_path: Path):
    """Each `options` value, set as Meltano would write it, passes the tap's config check; a value
    outside the options does not (the check bites)."""
    _require(TAP_BIN, "build it with `cargo build --bin tap-stripe`")

    def accepted(name: str, value: str) -> bool:
        config = tmp_path / f"{name}-{value}.json"
        config.write_text(json.dumps({"client_secret": FAKE_KEY, name: value}))
        run = subprocess.run([str(TAP_BIN), "--config", str(config), "--test=schema"], capture_output=True, text=True, timeout=30)
        assert run.returncode in (0, 2), run.stderr
        return run.returncode == 0

    options = [s for s in definition()["settings"] if s.get("kind") == "options"]
    assert {s["name"] for s in options} == {"log_level", "connected_accounts"}
    for setting in options:
        for option in setting["options"]:
            assert accepted(setting["name"], option["value"]), f"{setting['name']}={option['value']}"
        assert not accepted(setting["name"], "loud"), f"{setting['name']}=loud was accepted"


# --------------------------------------------------------------------------------------------
# Each rule rejects what breaks it.


def _set(path: list, value):
    def change(d: dict) -> None:
        target = d
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return change


def _del(path: list):
    def change(d: dict) -> None:
        target = d
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]
    return change


def _setting(name: str, key: str, value=None, delete: bool = False):
    def change(d: dict) -> None:
        (s,) = [s for s in d["settings"] if s["name"] == name]
        if delete:
            del s[key]
        else:
            s[key] = value
    return change


HUB_RULES = {
    "name required": (_del(["name"]), "`name` is required"),
    "namespace required": (_del(["namespace"]), "`namespace` is required"),
    "variant required": (_del(["variant"]), "`variant` is required"),
    "quality required": (_del(["quality"]), "`quality` is required"),
    "unknown key": (_set(["homepage"], "https://example.com"), "`homepage` is not a key the Hub allows"),
    "catalog and properties": (lambda d: d["capabilities"].append("properties"), "`catalog` and `properties` together"),
    "unknown capability": (lambda d: d["capabilities"].append("streaming"), "capability 'streaming' is not one of the Hub's"),
    "repeated capability": (lambda d: d["capabilities"].append("state"), "capabilities repeat"),
    "unknown kind": (_setting("client_secret", "kind", "secret"), "kind 'secret' is not one of"),
    "unknown setting key": (_setting("client_secret", "secret", True), "`secret` is not a setting key the Hub allows"),
    "sensitive not a boolean": (_setting("client_secret", "sensitive", "yes"), "`sensitive` must be true or false"),
    "setting without a name": (lambda d: d["settings"].append({"kind": "string"}), "`name` is required"),
    "label not a string": (_setting("start_date", "label", 3), "`label` must be a string"),
    "option value not a string": (lambda d: d["settings"][-1].update(kind="options", options=[{"label": "One", "value": 1}]), "`value` must be a string"),
    "options kind without options": (_setting("account_id", "kind", "options"), "kind options without `options`"),
    "setting twice": (lambda d: d["settings"].append(copy.deepcopy(d["settings"][0])), "settings declared twice"),
    "group of unknown settings": (_set(["settings_group_validation"], [["api_key"]]), "names settings not declared: ['api_key']"),
    "group not a list of lists": (_set(["settings_group_validation"], ["client_secret"]), "must be a list of lists"),
    "maintenance status": (_set(["maintenance_status"], "stable"), "maintenance_status 'stable' is not one of"),
    "quality": (_set(["quality"], "platinum"), "quality 'platinum' is not one of"),
    "keywords": (_set(["keywords"], "api"), "`keywords` must be a list of strings"),
    "domain_url": (_set(["domain_url"], "stripe.com"), "is not a URI"),
    "pip_url not a string": (_set(["pip_url"], ["tap-stripe-rs"]), "`pip_url` must be a string"),
    "python versions": (_set(["supported_python_versions"], ["3"]), "must be like '3.12'"),
    "requires": (_set(["requires"], {"files": [{"name": "x"}]}), "`requires` must be"),
}


@pytest.mark.parametrize("rule", sorted(HUB_RULES))
def test_each_hub_rule_rejects_a_definition_that_breaks_it(rule: str):
    change, message = HUB_RULES[rule]
    broken = definition()
    change(broken)
    problems = hub_check.check_definition(broken, HUB_DEFINITION)
    assert any(message in p for p in problems), f"{rule}: {problems}"


def test_the_definition_must_be_where_the_hub_keeps_it(tmp_path: Path):
    problems = hub_check.check_definition(definition(), tmp_path / "tap-stripe.yml")
    assert any("extractors/tap-stripe/tap-stripe-rs.yml" in p for p in problems), problems


ABOUT_DRIFT = {
    "a setting of the tap left out": (lambda d: d["settings"].pop(0), "of --about is not declared"),
    "a setting the tap lacks": (lambda d: d["settings"].append({"name": "api_key", "kind": "string"}), "api_key is not a setting of the tap"),
    "kind of a number": (_setting("request_timeout", "kind", "integer"), "kind integer does not fit number"),
    "kind of a date-time": (_setting("start_date", "kind", "string"), "kind string does not fit string"),
    "kind of an enum": (_setting("connected_accounts", "kind", "string"), "kind string does not fit"),
    "secret not sensitive": (_setting("client_secret", "sensitive", delete=True), "sensitive is False"),
    "sensitive not secret": (_setting("account_id", "sensitive", True), "sensitive is True"),
    "a capability the tap lacks": (lambda d: d["capabilities"].append("stream-maps"), "but --about says"),
    "a capability left out": (lambda d: d["capabilities"].remove("test"), "but --about says"),
    "options of an enum": (lambda d: [s for s in d["settings"] if s["name"] == "connected_accounts"][0]["options"].pop(), "but the tap takes"),
    "a default that is not the tap's": (_setting("base_url", "value", "https://example.com"), "is not the tap's default"),
    "a description of its own": (_setting("lookback_window", "description", "Seconds."), "description differs"),
    "required settings": (_set(["settings_group_validation"], [["client_secret", "start_date"]]), "but the tap requires ['client_secret']"),
    "executable": (_set(["executable"], "tap-stripe-rs"), "but --about names 'tap-stripe'"),
}


@pytest.mark.parametrize("drift", sorted(ABOUT_DRIFT))
def test_each_drift_from_about_is_caught(drift: str, about: dict):
    change, message = ABOUT_DRIFT[drift]
    drifted = definition()
    change(drifted)
    problems = hub_check.check_against_about(drifted, about)
    assert any(message in p for p in problems), f"{drift}: {problems}"


def test_a_tap_that_declares_properties_too_is_caught(about: dict):
    tap = copy.deepcopy(about)
    tap["capabilities"].append("properties")
    assert any("but --about says" in p for p in hub_check.check_against_about(definition(), tap))


PROJECT_DRIFT = {
    "kind": (_setting("lookback_window", "kind", "string"), "setting lookback_window: kind"),
    "sensitive": (_setting("client_secret", "sensitive", False), "setting client_secret: sensitive"),
    "pip_url": (_set(["pip_url"], "tap-stripe"), "pip_url: 'tap-stripe' in the project"),
    "capabilities": (lambda d: d["capabilities"].remove("structured-logging"), "capabilities"),
    "settings": (lambda d: d["settings"].pop(), "declared on one side only"),
    "groups": (_del(["settings_group_validation"]), "settings_group_validation"),
}


@pytest.mark.parametrize("drift", sorted(PROJECT_DRIFT))
def test_each_drift_of_the_example_project_is_caught(drift: str):
    change, message = PROJECT_DRIFT[drift]
    plugin = example_plugin()
    change(plugin)
    problems = hub_check.check_project_plugin(plugin, definition())
    assert any(message in p for p in problems), f"{drift}: {problems}"
