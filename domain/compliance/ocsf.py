"""Audit events as OCSF 1.3.0 events (https://schema.ocsf.io/1.3.0).

Which class, decided once here (people swap 3001 and 6003):
- a write through the API (create, update, delete, an action) is **API Activity** (6003,
  category 6 Application Activity): 1 Create, 3 Update (an action such as `invoices.post`
  updates its object; `api.operation` names it), 4 Delete; `actor`, `api.operation` and
  `src_endpoint` as the class requires, `resources` the object;
- a login, logout or "log out everywhere" is **Authentication** (3002, category 3 Identity &
  Access Management): 1 Logon (success or failure, `status_id`), 2 Logoff; `user`, and
  `service` (the class needs `service` or `dst_endpoint`);
- an account change is **Account Change** (3001, category 3): 1 Create (registration),
  2 Enable and 5 Disable (an account re-enabled or disabled), 3 Password Change, 7 Attach
  Policy (a member added, or a role granted: `policy.name` is the role), 8 Detach Policy
  (a member removed); `user` is the account changed, `actor` who did.

Every event has the base attributes: `activity_id`, `category_uid`, `class_uid`, `type_uid`
(class_uid x 100 + activity_id), `severity_id` (1 Informational; 3 Medium for a failure),
`time` (epoch ms), `metadata` (`product`, `version` = the OCSF version, `uid` = the audit
event's id, which consumers dedupe by; `tenant_uid` = the company), `status_id`, `message`.
"""

from __future__ import annotations

from typing import Any

from domain.compliance.audit import ACCOUNT_CHANGE, API_ACTIVITY, AUTHENTICATION

OCSF_VERSION = "1.3.0"
PRODUCT = {"name": "Numbors", "vendor_name": "Numbors", "version": "0.1.0"}
SERVICE = {"name": "Numbors API"}
UNKNOWN = {"name": "unknown"}

CLASSES: dict[int, tuple[str, str]] = {
    # class_uid: (class_name, category_name)
    API_ACTIVITY: ("API Activity", "Application Activity"),
    AUTHENTICATION: ("Authentication", "Identity & Access Management"),
    ACCOUNT_CHANGE: ("Account Change", "Identity & Access Management"),
}
ACTIVITIES: dict[int, dict[str, tuple[int, str]]] = {
    API_ACTIVITY: {"create": (1, "Create"), "update": (3, "Update"), "act": (3, "Update"),
                   "delete": (4, "Delete")},
    AUTHENTICATION: {"logon": (1, "Logon"), "logoff": (2, "Logoff")},
    ACCOUNT_CHANGE: {
        "create": (1, "Create"),
        "enable": (2, "Enable"),
        "password_change": (3, "Password Change"),
        "disable": (5, "Disable"),
        "member_add": (7, "Attach Policy"),
        "role_change": (7, "Attach Policy"),
        "member_remove": (8, "Detach Policy"),
    },
}  # fmt: skip
CLASS_NAMES = {"api_activity": API_ACTIVITY, "authentication": AUTHENTICATION,
               "account_change": ACCOUNT_CHANGE}  # fmt: skip


def _user(uid: str | None, email: str | None = None) -> dict[str, Any]:
    user: dict[str, Any] = {"uid": uid} if uid else {"name": "unknown"}
    if email:
        user["email_addr"] = email
    return user


INTERNAL = {"name": "internal"}

_TEMPLATES: dict[int, dict[str, tuple[dict[str, Any], dict[str, Any]]]] = {
    class_uid: {} for class_uid in CLASSES
}
"""Per class and activity, the attributes its events share: (on success, on failure)."""


def _build_template(class_uid: int, activity: str, failed: bool) -> dict[str, Any]:
    class_name, category_name = CLASSES[class_uid]
    activity_id, activity_name = ACTIVITIES[class_uid].get(activity, (99, "Other"))
    found = {
        "class_uid": class_uid,
        "class_name": class_name,
        "category_uid": class_uid // 1000,
        "category_name": category_name,
        "activity_id": activity_id,
        "activity_name": activity_name,
        "type_uid": class_uid * 100 + activity_id,
        "type_name": f"{class_name}: {activity_name}",
        "severity_id": 3 if failed else 1,
        "severity": "Medium" if failed else "Informational",
        "status_id": 2 if failed else 1,
        "status": "Failure" if failed else "Success",
    }
    if class_uid == AUTHENTICATION:
        found |= {
            "service": SERVICE,
            "auth_protocol_id": 99,
            "auth_protocol": "Password" if activity_id == 1 else "Bearer token",
            "logon_type_id": 3,  # Network
            "is_mfa": False,
        }
    return found


def _template(class_uid: int, activity: str, failed: bool) -> dict[str, Any]:
    """The attributes every event of this class, activity and outcome shares (built once)."""
    by_activity = _TEMPLATES[class_uid]
    pair = by_activity.get(activity)
    if pair is None:
        pair = by_activity[activity] = (
            _build_template(class_uid, activity, False),
            _build_template(class_uid, activity, True),
        )
    return pair[failed]


def to_ocsf(event: dict[str, Any]) -> dict[str, Any]:
    """One stored audit event as its OCSF event.

    Hot: the export runs it once per event (bench/audit.py), so it copies the shared part
    (a C-level dict copy) and sets the rest with plain item assignments; the keys come out
    in the same order whatever the path. Its result is meant to be serialised at once and
    dropped (`export.ndjson_pages`): containers that die young cost the cyclic GC nothing.
    """
    get = event.get
    class_uid = event["class_uid"]
    activity = event["activity"]
    status = get("status", "success")
    out = _template(class_uid, activity, status == "failure").copy()
    out["time"] = event["time_ms"]
    operation = get("operation")
    out["message"] = f"{operation or activity.replace('_', ' ')} ({status})"
    company_id = get("company_id")
    out["metadata"] = (
        {"version": OCSF_VERSION, "product": PRODUCT, "uid": event["_id"], "tenant_uid": company_id}
        if company_id
        else {"version": OCSF_VERSION, "product": PRODUCT, "uid": event["_id"]}
    )
    ip = get("ip")
    out["src_endpoint"] = {"ip": ip} if ip else INTERNAL
    request_id = get("request_id")
    if request_id:
        method, _, path = (get("http") or "").partition(" ")
        out["http_request"] = (
            {"uid": request_id, "http_method": method, "url": {"path": path}}
            if method
            else {"uid": request_id}
        )
    if class_uid == API_ACTIVITY:
        user_id = get("user_id")
        out["actor"] = {"user": {"uid": user_id} if user_id else UNKNOWN}
        out["api"] = {"operation": operation or activity, "service": SERVICE}
        object_id = get("object_id")
        if object_id:
            out["resources"] = [{"uid": object_id, "type": get("resource")}]
    elif class_uid == AUTHENTICATION:
        out["user"] = _user(get("user_id"), get("email"))
        reason = get("reason")
        if reason:
            out["status_detail"] = reason
    else:
        out["user"] = _user(get("target_user_id") or get("user_id"))
        out["actor"] = {"user": _user(get("user_id"))}
        role = get("role")
        if role:
            out["policy"] = {"name": role}
        previous_role = get("previous_role")
        if previous_role:
            out["unmapped"] = {"previous_role": previous_role}
    return out
