"""The SOC's work that answers no request: the detection schedule, the audit chain's seals,
the scheduled compliance reports and the notification deliveries.

One process runs it: the API process itself with one worker (``citysoc serve``, the demo,
the tests), or the supervising process with several (:mod:`soc_api.workers`), so that each
slice of events is evaluated once, each checkpoint sealed once and each report made once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from soc_api.audit.anchor import Sealer
from soc_api.compliance.schedule import ReportSchedule
from soc_api.console.compliance import compliance_schedule
from soc_api.context import SocContext
from soc_api.notifications.dispatcher import Dispatcher, start_notifications

log = logging.getLogger(__name__)

StartupTask = Callable[[SocContext], None]


@dataclass
class Background:
    notifier: Dispatcher
    sealer: Sealer
    reports: ReportSchedule

    def stop(self) -> None:
        """Stop in the reverse order of the start; the sealer seals once more on its way."""
        self.reports.stop()
        self.sealer.stop()
        self.notifier.stop()


def start_background(ctx: SocContext, startup: Sequence[StartupTask] = ()) -> Background:
    """Start deliveries, run the start-up tasks, then the schedule, the seals and reports."""
    settings = ctx.settings
    notifier = start_notifications(
        ctx.sessions,
        settings,
        agencies=ctx.topology.agencies,
        rules=ctx.rules,
        registry=ctx.metrics.registry,
    )
    for task in startup:
        task(ctx)
    ctx.scheduler.start()
    sealer = Sealer(
        ctx.sessions, settings.data_dir, settings.audit_seal_interval_seconds, ctx.store
    )
    sealer.start()
    reports = compliance_schedule(ctx)
    reports.start()
    return Background(notifier, sealer, reports)
