"""Checks an event against the vendored OCSF 1.3.0 requirements (ocsf_1_3_pieces.json)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SCHEMA = json.loads((Path(__file__).parent / "ocsf_1_3_pieces.json").read_text())


def _object_problems(name: str, kind: str, value: Any) -> list[str]:
    rules = SCHEMA["objects"][kind]
    if not isinstance(value, dict):
        return [f"{name} is not an object"]
    problems = [f"{name}.{k} missing" for k in rules.get("required", []) if k not in value]
    if "at_least_one" in rules and not any(k in value for k in rules["at_least_one"]):
        problems.append(f"{name} needs one of {rules['at_least_one']}")
    return problems


def problems(event: dict[str, Any]) -> list[str]:
    base = SCHEMA["base"]
    found = [f"{k} missing" for k in base["required"] if k not in event]
    if found:
        return found
    rules = SCHEMA["classes"].get(str(event["class_uid"]))
    if rules is None:
        return [f"class_uid {event['class_uid']} is not one we export"]
    if event["category_uid"] != rules["category_uid"]:
        found.append(f"category_uid {event['category_uid']} != {rules['category_uid']}")
    if event["activity_id"] not in rules["activities"]:
        found.append(f"activity_id {event['activity_id']} is not an activity of {rules['name']}")
    if event["type_uid"] != event["class_uid"] * 100 + event["activity_id"]:
        found.append("type_uid != class_uid * 100 + activity_id")
    if event["severity_id"] not in base["severity_id"]:
        found.append("severity_id out of range")
    if event.get("status_id", 0) not in base["status_id"]:
        found.append("status_id out of range")
    if not isinstance(event["time"], int) or event["time"] < 1_500_000_000_000:
        found.append("time is not epoch milliseconds")
    found += [
        f"{k} missing (required by {rules['name']})" for k in rules["required"] if k not in event
    ]
    if "at_least_one" in rules and not any(k in event for k in rules["at_least_one"]):
        found.append(f"{rules['name']} needs one of {rules['at_least_one']}")
    kinds = SCHEMA["types"]["object_attributes"]
    for attribute, kind in kinds.items():
        if attribute in event:
            found += _object_problems(attribute, kind, event[attribute])
    found += _object_problems("metadata.product", "product", event["metadata"].get("product"))
    if "actor" in event and "user" in event["actor"]:
        found += _object_problems("actor.user", "user", event["actor"]["user"])
    if event["metadata"].get("version") != SCHEMA["version"]:
        found.append("metadata.version is not the OCSF version")
    return found
