"""Per-citizen caps on dossiers waiting at the desk (docs/accounts.md, "Limits per citizen")."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from onestop.accounts.models import User
from onestop.core.access import Principal, Role
from onestop.core.errors import RuleViolation
from onestop.dossiers.models import Dossier
from onestop.dossiers.states import State


def check_open_submissions(session: Session, actor: Principal, *, limit: int) -> None:
    """Refuse (422) a citizen's new submission while ``limit`` of theirs wait to be received.

    Each waiting dossier can hold the per-dossier upload allowance and takes a desk's time to
    refuse, so their number is capped; staff entering paper dossiers are not. The citizen's row
    is locked first, so two submissions at once cannot both take the last place.
    """
    if actor.role != Role.CITIZEN:
        return
    session.execute(select(User.id).where(User.id == actor.user_id).with_for_update())
    waiting = session.scalar(
        select(func.count())
        .select_from(Dossier)
        .where(Dossier.owner_id == actor.user_id, Dossier.state == State.SUBMITTED.value)
    )
    if int(waiting or 0) >= limit:
        raise RuleViolation(
            f"Bạn đang có {waiting} hồ sơ chờ tiếp nhận (tối đa {limit}). Vui lòng chờ cơ quan "
            "tiếp nhận hoặc rút bớt hồ sơ trước khi nộp thêm.",
            type="dossier.too_many_open",
        )
