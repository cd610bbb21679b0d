"""What each role may do, checked by the services (the API maps refusals to 403)."""

from __future__ import annotations

from citysoc.core.errors import PermissionDeniedError
from soc_api.auth.models import READERS, TRIAGERS, Principal, Role, TokenScope


def require_reader(who: Principal) -> None:
    """Read alerts, incidents, IOCs: analysts, auditors, admins, and read tokens."""
    if who.token_scope is not None and who.token_scope is not TokenScope.READ:
        raise PermissionDeniedError("this API token may only ingest events")
    if who.role not in READERS:
        raise PermissionDeniedError(f"the {who.role.value} role does not read alerts")


def require_triager(who: Principal) -> None:
    """Change alerts and IOCs: analysts and admins, never a token or an auditor."""
    if who.token_scope is not None or who.role not in TRIAGERS:
        raise PermissionDeniedError(f"the {who.role.value} role may not change alerts")


def require_auditor(who: Principal) -> None:
    """Read the audit log and exports: auditors and admins."""
    if who.token_scope is not None or who.role not in {Role.AUDITOR, Role.ADMIN}:
        raise PermissionDeniedError("only auditors and admins read the audit log")


def require_admin(who: Principal) -> None:
    """Manage API tokens: admins, in person (never through a token)."""
    if who.token_scope is not None or who.role is not Role.ADMIN:
        raise PermissionDeniedError("only admins manage API tokens")


def require_rules_reader(who: Principal) -> None:
    """The rule catalogue and its ATT&CK coverage: every console user (ops above all)."""
    if who.token_scope is not None:
        raise PermissionDeniedError("API tokens do not read the rule catalogue")


def require_ingest(who: Principal) -> None:
    if who.token_scope is not TokenScope.INGEST:
        raise PermissionDeniedError("ingest needs an API token with scope ingest")
