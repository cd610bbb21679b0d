"""One read role per agency, limited to that agency's data streams, where the engine has
security enabled (OpenSearch's security plugin, or Elasticsearch security).

The SOC API already reads only the caller's agencies' data streams; these roles let an
agency's own tools (a dashboard, a notebook) read the engine directly with the same limit.
Map a user or an API key to ``citysoc-read-<agency>`` in the engine's own user store.
"""

from __future__ import annotations

from typing import Any

from eventstore.engine.client import EngineClient, EngineRequestError


def role_name(agency: str) -> str:
    return f"citysoc-read-{agency}"


def read_role(flavour: str, namespace: str) -> tuple[str, dict[str, Any]]:
    """The request path and body of the read role of the agency with this namespace."""
    streams = [f"logs-*-{namespace}", f".ds-logs-*-{namespace}-*"]
    name = role_name(namespace)
    if flavour == "elasticsearch":
        body = {
            "indices": [{"names": streams, "privileges": ["read", "view_index_metadata"]}],
            "metadata": {"managed_by": "citysoc", "agency": namespace},
        }
        return f"/_security/role/{name}", body
    body = {
        "description": f"citysoc: read the events of agency {namespace}",
        "index_permissions": [
            {"index_patterns": streams, "allowed_actions": ["read", "indices:admin/mappings/get"]}
        ],
    }
    return f"/_plugins/_security/api/roles/{name}", body


def put_read_role(client: EngineClient, namespace: str) -> str:
    """Create or update the agency's read role; ``created``, ``updated`` or ``unchanged``."""
    path, body = read_role(client.flavour, namespace)
    try:
        current = client.request("GET", path)
    except EngineRequestError as exc:
        if exc.status != 404:
            raise
        current = None
    held = (current or {}).get(role_name(namespace))
    if held is not None and all(held.get(k) == v for k, v in body.items() if k != "metadata"):
        return "unchanged"
    client.request("PUT", path, body=body)
    return "created" if held is None else "updated"
