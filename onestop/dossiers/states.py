"""The ten national-portal states, the channels, and the one transition table.

State codes are those the National Public Service Portal (DVCQG) uses for synchronisation and
for the Decision 766/QĐ-TTg statistics; the rules on the edges come from Decree 61/2018/NĐ-CP
(Chapter III, as amended by Decree 107/2021) and Decree 118/2025/NĐ-CP.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from onestop.core.access import Role
from onestop.worktime.policy import Channel as Channel  # the one channel vocabulary


class State(StrEnum):
    SUBMITTED = "submitted"
    RECEIVED = "received"
    REFUSED = "refused"
    PROCESSING = "processing"
    SUPPLEMENT_REQUESTED = "supplement_requested"
    AWAITING_PAYMENT = "awaiting_payment"
    WITHDRAWAL_REQUESTED = "withdrawal_requested"
    STOPPED = "stopped"
    RESOLVED = "resolved"
    RETURNED = "returned"

    @property
    def code(self) -> int:
        return STATE_CODES[self]

    @property
    def label(self) -> str:
        return STATE_LABELS[self]


STATE_CODES = {s: i for i, s in enumerate(State, start=1)}
STATE_LABELS = {
    State.SUBMITTED: "Mới đăng ký",
    State.RECEIVED: "Được tiếp nhận",
    State.REFUSED: "Không được tiếp nhận",
    State.PROCESSING: "Đang xử lý",
    State.SUPPLEMENT_REQUESTED: "Yêu cầu bổ sung",
    State.AWAITING_PAYMENT: "Yêu cầu thực hiện nghĩa vụ tài chính",
    State.WITHDRAWAL_REQUESTED: "Công dân yêu cầu rút hồ sơ",
    State.STOPPED: "Dừng xử lý",
    State.RESOLVED: "Đã xử lý xong",
    State.RETURNED: "Đã trả kết quả",
}
TERMINAL = frozenset({State.REFUSED, State.STOPPED, State.RETURNED})
# "Open" for queues and the in-progress part of the 766 statistics: received, not yet resolved.
OPEN_STATES = (
    State.RECEIVED,
    State.PROCESSING,
    State.SUPPLEMENT_REQUESTED,
    State.AWAITING_PAYMENT,
    State.WITHDRAWAL_REQUESTED,
)
IN_PROGRESS = frozenset(OPEN_STATES)
# The same condition in SQL, for partial indexes and bulk statements over open dossiers.
OPEN_STATES_SQL = "state IN (" + ", ".join(f"'{s.value}'" for s in OPEN_STATES) + ")"


class Action(StrEnum):
    SUBMIT = "submit"
    INTAKE_INCOMPLETE = "intake_incomplete"
    RESUBMIT = "resubmit"
    REFUSE = "refuse"
    RECEIVE = "receive"
    FORWARD = "forward"
    ACCEPT_HANDOVER = "accept_handover"
    ASSIGN = "assign"
    REASSIGN = "reassign"
    RELEASE = "release"
    REQUEST_SUPPLEMENT = "request_supplement"
    SUPPLY = "supply"
    REQUEST_PAYMENT = "request_payment"
    CONFIRM_PAYMENT = "confirm_payment"
    REQUEST_WITHDRAWAL = "request_withdrawal"
    ACCEPT_WITHDRAWAL = "accept_withdrawal"
    DENY = "deny"
    APOLOGIZE = "apologize"
    RESOLVE = "resolve"
    RETURN_RESULT = "return_result"


class Place(StrEnum):
    """Where a member of staff must stand to perform an action (docs/dossiers.md, "Who may act
    where"). "Their agencies" are the agencies of their memberships and the units below them.

    The rule is checked before the handler runs, for a clear answer, and again inside the
    transition's conditional UPDATE, so a dossier that moved meanwhile is never changed by the
    unit it left.
    """

    # The unit the dossier is at, once it has accepted it: ``current_unit_id`` is one of their
    # agencies and no handover of the dossier is waiting to be accepted.
    HOLDER = "holder"
    # The unit a handover is waiting to be accepted by (``current_unit_id`` with a pending
    # handover): it may accept it, and nothing else until it has.
    PENDING_TO = "pending_to"
    # The one-stop desk that received the dossier (``agency_id``): intake, and handing the
    # result back to the applicant (Decree 61/2018/NĐ-CP art. 20: results are returned at the
    # desk that received the dossier).
    DESK = "desk"


@dataclass(frozen=True)
class Edge:
    action: Action
    sources: frozenset[State]
    # None: the state does not change (assignment, apology, accepting a handover).
    target: State | None
    roles: frozenset[Role]
    label: str  # Vietnamese, for the citizen's timeline
    # Where staff may perform it (any of these places); citizens act on their own dossiers only,
    # wherever they are. Empty for actions staff never perform.
    staff_at: frozenset[Place] = frozenset()


CLERKS = frozenset({Role.CLERK, Role.MANAGER})
CITIZEN = frozenset({Role.CITIZEN})
# Who confirms that fees or taxes were paid: staff only (the seam for the payment provider).
PAYMENT_CONFIRMERS = CLERKS
WORKING = frozenset({State.RECEIVED, State.PROCESSING})
CAN_WITHDRAW = frozenset(
    {
        State.SUBMITTED,
        State.RECEIVED,
        State.PROCESSING,
        State.SUPPLEMENT_REQUESTED,
        State.AWAITING_PAYMENT,
    }
)


HOLDER = frozenset({Place.HOLDER})
DESK = frozenset({Place.DESK})


def _e(
    action: Action,
    sources: Iterable[State],
    target: State | None,
    roles: Iterable[Role],
    label: str,
    staff_at: Iterable[Place] = (),
) -> Edge:
    return Edge(action, frozenset(sources), target, frozenset(roles), label, frozenset(staff_at))


S = State
TRANSITIONS: dict[Action, Edge] = {
    e.action: e
    for e in [
        # Online submission; a desk or postal dossier is entered by a clerk, also in state 1.
        _e(Action.SUBMIT, [], S.SUBMITTED, CITIZEN | CLERKS, "Nộp hồ sơ", DESK),
        # Incomplete at intake: not received, one complete list of what is missing (form 02),
        # no clock (Decree 61/2018 art. 19(2)(b)). Encoded as state 5 before any receipt.
        _e(
            Action.INTAKE_INCOMPLETE,
            [S.SUBMITTED],
            S.SUPPLEMENT_REQUESTED,
            CLERKS,
            "Hướng dẫn bổ sung, hoàn thiện hồ sơ",
            DESK,
        ),
        _e(Action.RESUBMIT, [S.SUPPLEMENT_REQUESTED], S.SUBMITTED, CITIZEN, "Nộp lại hồ sơ"),
        _e(Action.REFUSE, [S.SUBMITTED], S.REFUSED, CLERKS, "Từ chối tiếp nhận hồ sơ", DESK),
        _e(Action.RECEIVE, [S.SUBMITTED], S.RECEIVED, CLERKS, "Tiếp nhận hồ sơ", DESK),
        _e(Action.FORWARD, WORKING, S.PROCESSING, CLERKS, "Chuyển xử lý", HOLDER),
        _e(
            Action.ACCEPT_HANDOVER,
            [S.PROCESSING],
            None,
            CLERKS,
            "Nhận hồ sơ để xử lý",
            [Place.PENDING_TO],
        ),
        _e(Action.ASSIGN, WORKING, None, CLERKS, "Phân công xử lý", HOLDER),
        # A manager moves an open dossier from one clerk to another (an absent clerk's work,
        # paused dossiers included); a clerk gives back a dossier to the unit's queue. Both only
        # where the dossier is held.
        _e(
            Action.REASSIGN,
            IN_PROGRESS,
            None,
            {Role.MANAGER},
            "Phân công lại người xử lý",
            HOLDER,
        ),
        _e(Action.RELEASE, IN_PROGRESS, None, CLERKS, "Trả hồ sơ về hàng chờ của đơn vị", HOLDER),
        # During processing a supplement may be requested once unless the sector's law says
        # otherwise (Decree 61/2018 art. 19(2)(a)); the clock pauses while the citizen works.
        _e(
            Action.REQUEST_SUPPLEMENT,
            WORKING,
            S.SUPPLEMENT_REQUESTED,
            CLERKS,
            "Yêu cầu bổ sung hồ sơ",
            HOLDER,
        ),
        _e(
            Action.SUPPLY,
            [S.SUPPLEMENT_REQUESTED],
            S.PROCESSING,
            CITIZEN | CLERKS,
            "Bổ sung hồ sơ",
            HOLDER,
        ),
        _e(
            Action.REQUEST_PAYMENT,
            WORKING,
            S.AWAITING_PAYMENT,
            CLERKS,
            "Yêu cầu thực hiện nghĩa vụ tài chính",
            HOLDER,
        ),
        # Payment is confirmed by the desk holding the dossier, never by the payer: the
        # citizen's word does not resume the clock (docs/dossiers.md, "Payment"). The payment
        # provider's verified notification is the other way in: its callback will act as the
        # integration's own principal, whose role is then added here.
        _e(
            Action.CONFIRM_PAYMENT,
            [S.AWAITING_PAYMENT],
            S.PROCESSING,
            PAYMENT_CONFIRMERS,
            "Đã thực hiện nghĩa vụ tài chính",
            HOLDER,
        ),
        _e(
            Action.REQUEST_WITHDRAWAL,
            CAN_WITHDRAW,
            S.WITHDRAWAL_REQUESTED,
            CITIZEN,
            "Công dân yêu cầu rút hồ sơ",
        ),
        _e(
            Action.ACCEPT_WITHDRAWAL,
            [S.WITHDRAWAL_REQUESTED],
            S.STOPPED,
            CLERKS,
            "Đồng ý cho rút hồ sơ, dừng xử lý",
            HOLDER,
        ),
        _e(
            Action.DENY,
            [S.RECEIVED, S.PROCESSING, S.SUPPLEMENT_REQUESTED, S.AWAITING_PAYMENT],
            S.STOPPED,
            CLERKS,
            "Dừng xử lý hồ sơ (không đủ điều kiện)",
            HOLDER,
        ),
        # Decree 61/2018 art. 19(4): apology and new date, sent no later than one working day
        # before the due date; the dossier still counts as late.
        _e(
            Action.APOLOGIZE,
            [S.RECEIVED, S.PROCESSING, S.SUPPLEMENT_REQUESTED, S.AWAITING_PAYMENT],
            None,
            CLERKS,
            "Xin lỗi và hẹn lại ngày trả kết quả",
            HOLDER,
        ),
        _e(Action.RESOLVE, WORKING, S.RESOLVED, CLERKS, "Đã có kết quả giải quyết", HOLDER),
        _e(Action.RETURN_RESULT, [S.RESOLVED], S.RETURNED, CLERKS, "Đã trả kết quả", DESK),
    ]
}

# Every action staff may perform says where they must stand to perform it.
if not all(e.staff_at or not (e.roles & CLERKS) for e in TRANSITIONS.values()):  # pragma: no cover
    raise RuntimeError("a staff action of TRANSITIONS does not say where staff may take it")
