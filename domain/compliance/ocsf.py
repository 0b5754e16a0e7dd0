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
  3 Password Change, 7 Attach Policy (a member added, or a role granted: `policy.name` is the
  role), 8 Detach Policy (a member removed); `user` is the account changed, `actor` who did.

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
        "password_change": (3, "Password Change"),
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


_TEMPLATES: dict[tuple[int, str, bool], dict[str, Any]] = {}


def _template(class_uid: int, activity: str, failed: bool) -> dict[str, Any]:
    """The attributes every event of this class, activity and outcome shares (built once)."""
    key = (class_uid, activity, failed)
    found = _TEMPLATES.get(key)
    if found is None:
        class_name, category_name = CLASSES[class_uid]
        activity_id, activity_name = ACTIVITIES[class_uid].get(activity, (99, "Other"))
        found = _TEMPLATES[key] = {
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


def to_ocsf(event: dict[str, Any]) -> dict[str, Any]:
    class_uid = event["class_uid"]
    company_id = event.get("company_id")
    metadata = {"version": OCSF_VERSION, "product": PRODUCT, "uid": event["_id"]}
    if company_id:
        metadata["tenant_uid"] = company_id
    ip = event.get("ip")
    out: dict[str, Any] = {
        **_template(class_uid, event["activity"], event.get("status") == "failure"),
        "time": event["time_ms"],
        "message": _message(event),
        "metadata": metadata,
        "src_endpoint": {"ip": ip} if ip else INTERNAL,
    }
    request_id = event.get("request_id")
    if request_id:
        method, _, path = (event.get("http") or "").partition(" ")
        out["http_request"] = (
            {"uid": request_id, "http_method": method, "url": {"path": path}}
            if method
            else {"uid": request_id}
        )
    if class_uid == API_ACTIVITY:
        out["actor"] = {"user": _user(event.get("user_id"))}
        out["api"] = {"operation": event.get("operation") or event["activity"], "service": SERVICE}
        if event.get("object_id"):
            out["resources"] = [{"uid": event["object_id"], "type": event.get("resource")}]
    elif class_uid == AUTHENTICATION:
        out["user"] = _user(event.get("user_id"), event.get("email"))
        if event.get("reason"):
            out["status_detail"] = event["reason"]
    else:
        out["user"] = _user(event.get("target_user_id") or event.get("user_id"))
        out["actor"] = {"user": _user(event.get("user_id"))}
        if event.get("role"):
            out["policy"] = {"name": event["role"]}
        if event.get("previous_role"):
            out["unmapped"] = {"previous_role": event["previous_role"]}
    return out


def _message(event: dict[str, Any]) -> str:
    what = event.get("operation") or event["activity"].replace("_", " ")
    return f"{what} ({event.get('status', 'success')})"
