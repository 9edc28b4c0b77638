"""``autokitteh.activities``: how calls become (or do not become) journaled steps."""

from akd.runner.decorators import (
    ACTIVITY_ATTR,
    INHIBIT_ACTIVITIES_ATTR,
    activity,
    inhibit_activities,
    register_no_activity,
)

__all__ = ["ACTIVITY_ATTR", "INHIBIT_ACTIVITIES_ATTR", "activity", "inhibit_activities", "register_no_activity"]
