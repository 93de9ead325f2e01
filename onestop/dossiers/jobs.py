"""The dossiers feature's scheduled jobs (collected by ``onestop.scheduler``)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from onestop.core.scheduling import Job
from onestop.dossiers.reprojection import reproject_open_dossiers


def _reproject_calendars(session: Session, now: datetime) -> str:
    return str(reproject_open_dossiers(session, now=now))


JOBS = [
    Job(
        "reproject_calendars",
        timedelta(minutes=5),
        _reproject_calendars,
        "Tính lại hạn giải quyết của hồ sơ đang mở khi lịch làm việc thay đổi",
    ),
]
