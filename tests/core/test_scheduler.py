"""Exactly one scheduler: the lease, and one run per (job, scheduled time)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from onestop.scheduler import JOBS, Job, JobRun, acquire_lease, claim, run_job, slot

T0 = datetime(2026, 3, 5, 2, 0, tzinfo=UTC)


def test_a_second_scheduler_waits_for_the_lease(session):
    assert acquire_lease(session, "máy-1", now=T0)
    assert not acquire_lease(session, "máy-2", now=T0 + timedelta(seconds=30))
    assert acquire_lease(session, "máy-1", now=T0 + timedelta(seconds=30))  # renewal
    # máy-1 was killed: once its lease runs out, máy-2 takes over.
    assert acquire_lease(session, "máy-2", now=T0 + timedelta(seconds=91))
    assert not acquire_lease(session, "máy-1", now=T0 + timedelta(seconds=100))


def test_each_job_slot_is_claimed_once(session):
    first = claim(session, "reproject_calendars", T0, "máy-1", now=T0)
    second = claim(session, "reproject_calendars", T0, "máy-2", now=T0)
    assert first is not None and second is None
    later = claim(session, "reproject_calendars", T0 + timedelta(minutes=5), "máy-2", now=T0)
    assert later is not None


def test_slots_are_fixed_so_two_schedulers_agree():
    every = timedelta(minutes=5)
    assert slot(T0 + timedelta(minutes=2, seconds=13), every) == T0
    assert slot(T0 + timedelta(minutes=5), every) == T0 + every


def test_run_job_runs_once_per_slot_and_records_failures(app, session, monkeypatch):
    calls = []

    def work(sess, now):
        calls.append(now)
        return "ổn"

    def broken(sess, now):
        raise RuntimeError("hỏng")

    monkeypatch.setitem(JOBS, "thu", Job("thu", timedelta(minutes=5), work, "thử"))
    monkeypatch.setitem(JOBS, "hong", Job("hong", timedelta(minutes=5), broken, "hỏng"))
    assert run_job(JOBS["thu"], scheduled_for=T0, holder="máy-1") == "done"
    assert run_job(JOBS["thu"], scheduled_for=T0, holder="máy-2") is None
    assert len(calls) == 1
    assert run_job(JOBS["hong"], scheduled_for=T0, holder="máy-1") == "failed"
    failed = session.scalar(select(JobRun).where(JobRun.job == "hong"))
    assert failed.status == "failed" and "hỏng" in failed.detail
    assert session.scalar(select(func.count()).select_from(JobRun)) == 2


def test_reprojection_job_is_registered_and_runs(app, session):
    result = app.test_cli_runner().invoke(
        args=["onestop", "scheduler", "run-job", "reproject_calendars"]
    )
    assert result.exit_code == 0, result.output
    assert "done" in result.output
