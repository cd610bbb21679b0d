"""Run the policy pack over an offline plan, as the Pulumi engine would during a preview."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from infra.offline import OfflinePlan, PlannedResource
from infra.policy.policies import POLICIES


@dataclass(frozen=True)
class Violation:
    policy: str
    message: str
    urn: str | None
    mandatory: bool


@dataclass(frozen=True)
class PolicyOutcome:
    policy: str
    description: str
    mandatory: bool
    violations: tuple[Violation, ...]


def _options(parent: str) -> PolicyResourceOptions:
    return PolicyResourceOptions(
        protect=False, ignore_changes=[], delete_before_replace=None, aliases=[],
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0), additional_secret_outputs=[],
        parent=parent or None,
    )  # fmt: skip


def policy_resources(plan: OfflinePlan) -> list[PolicyResource]:
    """The plan's custom resources as ``PolicyResource``s, linked by parent and dependency."""
    by_urn = {
        r.urn: PolicyResource(
            r.type, r.props, r.urn, r.name, _options(r.parent), None, None, [], {}
        )
        for r in plan.resources
    }
    for planned in plan.resources:
        resource = by_urn[planned.urn]
        resource.parent = by_urn.get(planned.parent)
        resource.property_dependencies = {
            prop: [by_urn[u] for u in urns if u in by_urn]
            for prop, urns in planned.dependencies.items()
        }
        resource.dependencies = [
            d for deps in resource.property_dependencies.values() for d in deps
        ]
    return [by_urn[r.urn] for r in plan.resources if r.custom]


def run_policy(policy: Policy, resources: list[PolicyResource]) -> PolicyOutcome:
    mandatory = policy.enforcement_level in (None, EnforcementLevel.MANDATORY)
    found: list[Violation] = []

    def report(message: str, urn: str | None = None) -> None:
        found.append(Violation(policy.name, message, urn, mandatory))

    if isinstance(policy, StackValidationPolicy):
        policy.validate(StackValidationArgs(resources), report)
    elif isinstance(policy, ResourceValidationPolicy):
        for resource in resources:
            args = ResourceValidationArgs(
                resource.resource_type, resource.props, resource.urn, resource.name,
                resource.opts, None,
            )  # fmt: skip
            policy.validate(args, _reporting_at(report, resource.urn))
    return PolicyOutcome(policy.name, policy.description, mandatory, tuple(found))


def _reporting_at(
    report: Callable[[str, str | None], None], default_urn: str
) -> Callable[[str, str | None], None]:
    """A resource policy reports without a URN: attach the resource's own."""

    def at(message: str, urn: str | None = None) -> None:
        report(message, urn or default_urn)

    return at


def evaluate(plan: OfflinePlan, policies: tuple[Policy, ...] = POLICIES) -> list[PolicyOutcome]:
    resources = policy_resources(plan)
    return [run_policy(policy, resources) for policy in policies]


def planned_children(plan: OfflinePlan) -> dict[str, list[PlannedResource]]:
    """Resources by parent URN (the stack's own children under ``""``), for the tree."""
    urns = {r.urn for r in plan.resources}
    tree: dict[str, list[PlannedResource]] = {}
    for resource in plan.resources:
        parent = resource.parent if resource.parent in urns else ""
        tree.setdefault(parent, []).append(resource)
    for siblings in tree.values():
        siblings.sort(key=lambda r: (r.type, r.name))
    return tree
