"""The alert workflow plugged into the alerts bot."""

from __future__ import annotations

from collections.abc import Callable

from bots.alerts.commands import alert_commands
from bots.alerts.officers import ManualAlerts
from bots.alerts.service import AlertService
from bots.features import FeatureBase


class AlertFeature(FeatureBase):
    name = "alerts"

    def __init__(
        self, service: AlertService, manual: ManualAlerts, clock: Callable[[], float]
    ) -> None:
        super().__init__(clock)
        self.service = service
        self.manual = manual
        self.commands = alert_commands(manual, service, self.now)

    async def run_due(self) -> int:
        now = self.now()
        return await self.manual.resume(now) + await self.service.run_due(now)
