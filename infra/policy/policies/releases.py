"""The analytics bundle a stack pins (``citysoc:analyticsBundle``) has a passing, signed gate
decision, verified with the stack's ``citysoc:releasePublicKey``.

The program writes the pin into the metadata of every host that loads rules (sensors, the SOC
API); the policy verifies each pinned bundle as ``citysoc release verify`` does. A stack that
pins no bundle (the example stack) has nothing to refuse here: its hosts run the rules of the
installed citysoc package, and the Ansible roles say so when they deploy.
"""

from __future__ import annotations

from pathlib import Path

from pulumi_policy import ReportViolation, StackValidationArgs, StackValidationPolicy

from citysoc.core.errors import ConfigError
from infra.policy.policies.resources import INSTANCE, of_type
from releases.signing import verify_release

REPO = Path(__file__).resolve().parents[3]


def _resolved(value: str) -> Path:
    path = Path(value)
    return path if path.is_absolute() else REPO / path


def pinned(args: StackValidationArgs) -> dict[tuple[str, str], list[str]]:
    """(bundle, public key) -> the hosts pinning it."""
    found: dict[tuple[str, str], list[str]] = {}
    for instance in of_type(args.resources, INSTANCE):
        meta = instance.props.get("metadata") or {}
        if meta.get("analytics_bundle"):
            pin = (str(meta["analytics_bundle"]), str(meta.get("release_public_key", "")))
            found.setdefault(pin, []).append(instance.name)
    return found


def validate_gated(args: StackValidationArgs, report: ReportViolation) -> None:
    for (bundle, key), hosts in sorted(pinned(args).items()):
        where = f"bundle {bundle} (pinned by {', '.join(sorted(hosts))})"
        if not key:
            report(f"{where}: no citysoc:releasePublicKey to verify its decision with", None)
            continue
        try:
            problems = verify_release(_resolved(bundle), _resolved(key))
        except ConfigError as exc:
            problems = [str(exc)]
        for problem in problems:
            report(f"{where}: {problem}", None)


analytics_bundle_gated = StackValidationPolicy(
    name="analytics-bundle-gated",
    description="A pinned analytics bundle is unchanged since it was built and carries a "
    "passing gate decision signed by the stack's release key.",
    validate=validate_gated,
)
