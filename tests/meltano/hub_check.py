"""Checks a Meltano Hub extractor definition (`<variant>.yml`) the way the Hub does, and against
what the tap says of itself (`--about --format json`), so that neither can drift.

The Hub's rules, as its published JSON Schemas state them (github.com/meltano/hub, `schemas/`:
`plugin_definitions/extractors.schema.json`, which combines `common/common.schema.json`,
`common/extractors_specific.schema.json`, `plugin_definitions/hub_metadata.schema.json` and
`common/base_setting.schema.json`), written out here as plain Python rather than copied:

- required keys `name`, `namespace`, `variant` (common) and `quality` (extractors); no key outside
  the extractor's list (`additionalProperties: false`); each key of its type;
- `capabilities` from the Hub's list; `maintenance_status` and `quality` from theirs;
- `settings`: objects with a `name`, only the keys of a base setting, a `kind` from the list,
  `options` as `{label, value}` objects, `sensitive`/`hidden` booleans;
- `settings_group_validation`: lists of setting names.

Plus the Hub's conventions that the schemas do not state: `catalog` or `properties`, not both (an
extractor is handed its catalog one way); unique capabilities and setting names; groups that name
declared settings; the file at `extractors/<name>/<variant>.yml`.

Against `--about --format json` ([`check_against_about`]): the same capabilities; one setting per
property of the settings schema, of a kind that fits its JSON type (`number` is `decimal`, a
`date-time` string is `date_iso8601`, an `enum` is `options` with exactly its values), sensitive
exactly where the schema marks a secret, label and description the schema's title and
description, and one settings group: the required settings.

    python tests/meltano/hub_check.py meltano/hub/extractors/tap-stripe/tap-stripe-rs.yml [TAP]

checks the file (and, given the tap's executable TAP, against its `--about`); exit 1 on a problem.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

# The keys an extractor definition may have (plugin_definitions/extractors.schema.json).
EXTRACTOR_KEYS = {
    "name", "pip_url", "variant", "namespace", "label", "description", "executable", "settings",
    "docs", "repo", "logo_url", "hidden", "python", "settings_group_validation", "commands",
    "capabilities", "metadata", "schema", "select", "maintenance_status", "quality", "domain_url",
    "keywords", "requires", "definition", "next_steps", "settings_preamble", "usage", "prereq",
    "supported_python_versions", "log_parser",
}
REQUIRED_KEYS = ("name", "namespace", "variant", "quality")
STRING_KEYS = {
    "name", "pip_url", "variant", "namespace", "label", "description", "executable", "docs", "repo",
    "python", "definition", "next_steps", "settings_preamble", "usage", "prereq", "log_parser",
    "maintenance_status", "quality",
}
NULLABLE_STRING_KEYS = {"logo_url", "domain_url"}
OBJECT_KEYS = {"commands", "metadata", "schema"}
STRING_LIST_KEYS = {"select", "keywords", "supported_python_versions"}
# common/extractors_specific.schema.json
CAPABILITIES = {
    "properties", "catalog", "discover", "state", "about", "stream-maps", "schema-flattening",
    "activate-version", "batch", "test", "log-based", "structured-logging",
}
MAINTENANCE_STATUS = {"active", "beta", "development", "inactive", "unknown"}
QUALITY = {"gold", "silver", "bronze", "unknown"}
# common/base_setting.schema.json
SETTING_KEYS = {
    "name", "aliases", "label", "value", "placeholder", "kind", "description", "tooltip",
    "documentation", "env", "value_processor", "value_post_processor", "oauth", "options", "docs",
    "hidden", "sensitive",
}
SETTING_STRING_KEYS = {"name", "label", "placeholder", "kind", "description", "tooltip", "documentation", "env", "docs"}
KINDS = {
    "oauth", "hidden", "password", "date_iso8601", "file", "email", "integer", "options", "object",
    "array", "boolean", "string", "decimal",
}
VALUE_PROCESSORS = {"upcase_string", "nest_object", "stringify"}
# What each JSON Schema type of a setting may be in Meltano (--about's settings are JSON Schema).
KINDS_OF_TYPE = {
    "string": {"string", "password", "date_iso8601", "options", "email", "file", "hidden"},
    "integer": {"integer"},
    "number": {"decimal"},
    "boolean": {"boolean"},
    "array": {"array"},
    "object": {"object"},
}


def _is_str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def check_setting(setting: Any, where: str) -> list[str]:
    """Problems of one entry of `settings` (base_setting.schema.json)."""
    if not isinstance(setting, dict):
        return [f"{where}: a setting must be an object, not {type(setting).__name__}"]
    problems = []
    name = setting.get("name")
    where = f"{where} ({name})" if isinstance(name, str) else where
    if "name" not in setting:
        problems.append(f"{where}: `name` is required")
    for key in sorted(set(setting) - SETTING_KEYS):
        problems.append(f"{where}: `{key}` is not a setting key the Hub allows")
    for key in sorted(SETTING_STRING_KEYS & set(setting)):
        if not isinstance(setting[key], str):
            problems.append(f"{where}: `{key}` must be a string")
    if "kind" in setting and setting["kind"] not in KINDS:
        problems.append(f"{where}: kind {setting['kind']!r} is not one of {sorted(KINDS)}")
    for key in ("hidden", "sensitive"):
        if key in setting and not isinstance(setting[key], bool):
            problems.append(f"{where}: `{key}` must be true or false")
    if "aliases" in setting and not _is_str_list(setting["aliases"]):
        problems.append(f"{where}: `aliases` must be a list of strings")
    for key in ("value_processor", "value_post_processor"):
        if key in setting and setting[key] not in VALUE_PROCESSORS:
            problems.append(f"{where}: {key} {setting[key]!r} is not one of {sorted(VALUE_PROCESSORS)}")
    if "oauth" in setting:
        oauth = setting["oauth"]
        if not (isinstance(oauth, dict) and isinstance(oauth.get("provider"), str)):
            problems.append(f"{where}: `oauth` must be an object with a `provider` string")
    if "options" in setting:
        options = setting["options"]
        if not isinstance(options, list):
            problems.append(f"{where}: `options` must be a list")
        else:
            for i, option in enumerate(options):
                if not isinstance(option, dict):
                    problems.append(f"{where}: option {i} must be an object")
                    continue
                for key in ("label", "value"):
                    if key in option and not isinstance(option[key], str):
                        problems.append(f"{where}: option {i}: `{key}` must be a string")
    if setting.get("kind") == "options" and not setting.get("options"):
        problems.append(f"{where}: kind options without `options`")
    return problems


def check_definition(definition: Any, path: Path | None = None) -> list[str]:
    """Problems of an extractor definition against the Hub's rules (see the module's doc)."""
    if not isinstance(definition, dict):
        return ["the definition must be a YAML mapping"]
    problems = []
    for key in REQUIRED_KEYS:
        if key not in definition:
            problems.append(f"`{key}` is required")
    for key in sorted(set(definition) - EXTRACTOR_KEYS):
        problems.append(f"`{key}` is not a key the Hub allows in an extractor definition")
    for key in sorted(STRING_KEYS & set(definition)):
        if not isinstance(definition[key], str):
            problems.append(f"`{key}` must be a string")
    for key in sorted(NULLABLE_STRING_KEYS & set(definition)):
        if definition[key] is not None and not isinstance(definition[key], str):
            problems.append(f"`{key}` must be a string or null")
    domain = definition.get("domain_url")
    if isinstance(domain, str) and not re.match(r"^[a-z][a-z0-9+.-]*://[^/\s]+", domain):
        problems.append(f"domain_url {domain!r} is not a URI")
    for key in sorted(OBJECT_KEYS & set(definition)):
        if not isinstance(definition[key], dict):
            problems.append(f"`{key}` must be an object")
    for key in sorted(STRING_LIST_KEYS & set(definition)):
        if not _is_str_list(definition[key]):
            problems.append(f"`{key}` must be a list of strings")
    versions = definition.get("supported_python_versions")
    if _is_str_list(versions) and not all(re.fullmatch(r"3\.\d+", v) for v in versions):
        problems.append(f"supported_python_versions {versions} must be like '3.12'")
    if "hidden" in definition and not isinstance(definition["hidden"], bool):
        problems.append("`hidden` must be true or false")
    if definition.get("maintenance_status", "active") not in MAINTENANCE_STATUS:
        problems.append(f"maintenance_status {definition['maintenance_status']!r} is not one of {sorted(MAINTENANCE_STATUS)}")
    if "quality" in definition and definition["quality"] not in QUALITY:
        problems.append(f"quality {definition['quality']!r} is not one of {sorted(QUALITY)}")
    if "requires" in definition:
        requires = definition["requires"]
        files = requires.get("files") if isinstance(requires, dict) else None
        if not (isinstance(requires, dict) and set(requires) == {"files"} and isinstance(files, list)
                and all(isinstance(f, dict) and set(f) == {"name", "variant"} for f in files)):
            problems.append("`requires` must be {files: [{name, variant}, ...]}")

    capabilities = definition.get("capabilities", [])
    if not _is_str_list(capabilities):
        problems.append("`capabilities` must be a list of strings")
        capabilities = []
    for c in capabilities:
        if c not in CAPABILITIES:
            problems.append(f"capability {c!r} is not one of the Hub's: {sorted(CAPABILITIES)}")
    if len(set(capabilities)) != len(capabilities):
        problems.append(f"capabilities repeat: {capabilities}")
    if {"catalog", "properties"} <= set(capabilities):
        problems.append("capabilities `catalog` and `properties` together: declare the one the tap reads its catalog by")

    settings = definition.get("settings", [])
    names: list[str] = []
    if not isinstance(settings, list):
        problems.append("`settings` must be a list")
        settings = []
    for i, setting in enumerate(settings):
        problems += check_setting(setting, f"setting {i}")
        if isinstance(setting, dict) and isinstance(setting.get("name"), str):
            names.append(setting["name"])
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        problems.append(f"settings declared twice: {repeated}")
    groups = definition.get("settings_group_validation", [])
    if not (isinstance(groups, list) and all(_is_str_list(g) for g in groups)):
        problems.append("`settings_group_validation` must be a list of lists of setting names")
    else:
        for group in groups:
            unknown = sorted(set(group) - set(names))
            if unknown:
                problems.append(f"settings_group_validation names settings not declared: {unknown}")

    if path is not None and isinstance(definition.get("name"), str) and isinstance(definition.get("variant"), str):
        want = f"extractors/{definition['name']}/{definition['variant']}.yml"
        if not path.as_posix().endswith(want):
            problems.append(f"{path} is not at .../{want}, where the Hub keeps this definition")
    return problems


def expected_kinds(prop: dict) -> set[str]:
    """The Meltano kinds that fit a setting's JSON Schema."""
    types = prop.get("type")
    types = [t for t in (types if isinstance(types, list) else [types]) if t != "null"]
    if len(types) != 1 or types[0] not in KINDS_OF_TYPE:
        return set()
    kinds = set(KINDS_OF_TYPE[types[0]])
    if types[0] == "string":
        if prop.get("format") in ("date-time", "date"):
            return {"date_iso8601"}
        if "enum" in prop:
            return {"options"}
        kinds.discard("date_iso8601")
    return kinds


def check_against_about(definition: dict, about: dict) -> list[str]:
    """Problems of a definition against the tap's `--about --format json` (see the module's doc)."""
    problems = []
    caps, declared = set(about.get("capabilities", [])), set(definition.get("capabilities", []))
    if caps != declared:
        problems.append(f"capabilities {sorted(declared)} but --about says {sorted(caps)}")
    if definition.get("executable", definition.get("name")) != about.get("name"):
        problems.append(f"executable {definition.get('executable')!r} but --about names {about.get('name')!r}")
    schema = about.get("settings", {})
    props: dict = schema.get("properties", {})
    settings = {s["name"]: s for s in definition.get("settings", []) if isinstance(s, dict) and "name" in s}
    for name in sorted(set(props) - set(settings)):
        problems.append(f"setting {name} of --about is not declared")
    for name in sorted(set(settings) - set(props)):
        problems.append(f"setting {name} is not a setting of the tap (--about)")
    for name in sorted(set(props) & set(settings)):
        prop, setting = props[name], settings[name]
        kind = setting.get("kind", "string")
        fits = expected_kinds(prop)
        if kind not in fits:
            problems.append(f"setting {name}: kind {kind} does not fit {prop.get('type')} (want one of {sorted(fits)})")
        secret = bool(prop.get("airbyte_secret") or prop.get("secret") or prop.get("writeOnly"))
        sensitive = bool(setting.get("sensitive")) or kind == "password"
        if secret != sensitive:
            problems.append(f"setting {name}: sensitive is {sensitive}, the tap's schema says secret {secret}")
        if "options" in setting:
            values = [o.get("value") for o in setting["options"]]
            if "enum" in prop and sorted(values) != sorted(prop["enum"]):
                problems.append(f"setting {name}: options {values} but the tap takes {prop['enum']}")
        if "value" in setting and setting["value"] != prop.get("default"):
            problems.append(f"setting {name}: value {setting['value']!r} is not the tap's default {prop.get('default')!r}")
        for key, source in (("label", "title"), ("description", "description")):
            if key in setting and source in prop and setting[key] != prop[source]:
                problems.append(f"setting {name}: {key} differs from the tap's {source}")
    required = sorted(schema.get("required", []))
    groups = [sorted(g) for g in definition.get("settings_group_validation", [])]
    if required and groups != [required]:
        problems.append(f"settings_group_validation {groups} but the tap requires {required}")
    return problems


def check_project_plugin(plugin: dict, definition: dict) -> list[str]:
    """Problems of a project's extractor entry (meltano.yml) against the Hub definition: the same
    package and executable, capabilities, settings (names, kinds, sensitive, option values) and
    required groups. Labels may differ."""
    problems = []
    for key in ("name", "namespace", "pip_url", "executable"):
        if plugin.get(key) != definition.get(key):
            problems.append(f"{key}: {plugin.get(key)!r} in the project, {definition.get(key)!r} in the Hub definition")
    if set(plugin.get("capabilities", [])) != set(definition.get("capabilities", [])):
        problems.append(f"capabilities {sorted(plugin.get('capabilities', []))} in the project, "
                        f"{sorted(definition.get('capabilities', []))} in the Hub definition")
    ours = {s["name"]: s for s in plugin.get("settings", [])}
    hub = {s["name"]: s for s in definition.get("settings", [])}
    if set(ours) != set(hub):
        problems.append(f"settings {sorted(set(ours) ^ set(hub))} are declared on one side only")
    for name in sorted(set(ours) & set(hub)):
        a, b = ours[name], hub[name]
        for key in ("kind", "sensitive"):
            if a.get(key) != b.get(key):
                problems.append(f"setting {name}: {key} {a.get(key)!r} in the project, {b.get(key)!r} in the Hub definition")
        values = lambda s: [o.get("value") for o in s.get("options", [])]  # noqa: E731
        if values(a) != values(b):
            problems.append(f"setting {name}: options {values(a)} in the project, {values(b)} in the Hub definition")
    groups = lambda d: sorted(sorted(g) for g in d.get("settings_group_validation", []))  # noqa: E731
    if groups(plugin) != groups(definition):
        problems.append(f"settings_group_validation {groups(plugin)} in the project, {groups(definition)} in the Hub definition")
    return problems


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print("usage: python tests/meltano/hub_check.py <variant>.yml [path of the tap-stripe executable]", file=sys.stderr)
        return 2
    path = Path(argv[1])
    definition = yaml.safe_load(path.read_text())
    problems = check_definition(definition, path)
    if len(argv) == 3:
        about = json.loads(subprocess.run([argv[2], "--about", "--format", "json"], capture_output=True,
                                          text=True, check=True).stdout)
        problems += check_against_about(definition, about)
    for p in problems:
        print(f"{path}: {p}", file=sys.stderr)
    if not problems:
        print(f"{path}: follows the Meltano Hub's rules" + (" and matches --about" if len(argv) == 3 else ""))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
