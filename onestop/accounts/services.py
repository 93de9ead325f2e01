"""Registration, staff creation, login, logout, token checks; flushes, never commits."""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from onestop.accounts.models import ApiToken, LoginFailure, Membership, User
from onestop.agencies.models import Agency
from onestop.agencies.services import get_by_code, subtree_ids
from onestop.core import audit
from onestop.core.access import STAFF_ROLES, Principal, Role
from onestop.core.errors import Conflict, NotFound, RuleViolation, TooManyRequests, Unauthenticated

# Argon2id with the RFC 9106 "second recommended" memory-constrained profile by default; tests
# use a cheap profile (set_password_profile) because hashing is deliberately slow.
_hasher = PasswordHasher()


def set_password_profile(*, time_cost: int, memory_cost: int, parallelism: int = 1) -> None:
    global _hasher
    _hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism)


# Verified against when the username does not exist, so that a wrong username takes as long as
# a wrong password and logins cannot be used to find out who has an account.
_DUMMY_HASH: str | None = None


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _verify(stored: str | None, password: str) -> bool:
    global _DUMMY_HASH
    if stored is None:
        _DUMMY_HASH = _DUMMY_HASH or _hasher.hash(secrets.token_hex(16))
        stored = _DUMMY_HASH
        password = password + "\x00never"
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_password_rules(password: str, username: str) -> None:
    # ASVS 5.0 V6.2: at least 8 characters (we ask 10), up to 128 accepted, no composition rules.
    if len(password) < 10:
        raise RuleViolation(
            "Mật khẩu phải có ít nhất 10 ký tự.",
            type="account.weak_password",
            errors={"json": {"password": ["Mật khẩu phải có ít nhất 10 ký tự."]}},
        )
    if password.casefold() == username.casefold():
        raise RuleViolation(
            "Mật khẩu không được trùng tên đăng nhập.",
            type="account.weak_password",
            errors={"json": {"password": ["Mật khẩu không được trùng tên đăng nhập."]}},
        )


@dataclass(frozen=True)
class NewUser:
    username: str
    password: str
    full_name: str
    role: Role
    email: str | None = None
    phone: str | None = None
    agency_codes: tuple[str, ...] = ()


def _create_user(
    session: Session, data: NewUser, *, actor: Principal | None, now: datetime, action: str
) -> User:
    username = data.username.strip().lower()
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict("Tên đăng nhập đã được sử dụng.", type="account.username_taken")
    check_password_rules(data.password, username)
    agencies: list[Agency] = [get_by_code(session, code) for code in data.agency_codes]
    if data.role in STAFF_ROLES and data.role != Role.ADMIN and not agencies:
        raise RuleViolation(
            "Cán bộ phải thuộc ít nhất một cơ quan.", type="account.agency_required"
        )
    if data.role == Role.CITIZEN and agencies:
        raise RuleViolation("Công dân không thuộc cơ quan nào.", type="account.citizen_agency")
    user = User(
        username=username,
        full_name=data.full_name,
        email=data.email,
        phone=data.phone,
        role=str(data.role),
        password_hash=hash_password(data.password),
        is_active=True,
        created_at=now,
    )
    user.memberships = [Membership(agency_id=a.id) for a in agencies]
    session.add(user)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action=action,
        stream=f"user:{user.id}",
        now=now,
        data={"username": username, "role": user.role, "agencies": list(data.agency_codes)},
    )
    return user


def register_citizen(session: Session, data: NewUser, *, now: datetime) -> User:
    """A citizen creates their own account."""
    if data.role != Role.CITIZEN:
        raise RuleViolation("Chỉ công dân mới tự đăng ký.", type="account.role_not_allowed")
    return _create_user(session, data, actor=None, now=now, action="user.registered")


def create_user(session: Session, data: NewUser, *, actor: Principal | None, now: datetime) -> User:
    """An administrator (or, with ``actor=None``, the command line) creates an account."""
    return _create_user(session, data, actor=actor, now=now, action="user.created")


AccountSpec = tuple[str, str, str, tuple[str, ...]]  # username, full name, role, agency codes


def ensure_accounts(
    session: Session, specs: list[AccountSpec], *, password: str, now: datetime
) -> list[str]:
    """Create the accounts that do not exist yet (demo data, test servers); returns their names."""
    existing = set(session.scalars(select(User.username)).all())
    created = []
    for username, full_name, role, agencies in specs:
        if username in existing:
            continue
        create_user(
            session,
            NewUser(
                username=username,
                password=password,
                full_name=full_name,
                role=Role(role),
                agency_codes=agencies,
            ),
            actor=None,
            now=now,
        )
        created.append(username)
    return created


def get_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("Không tìm thấy người dùng.", type="account.not_found")
    return user


def disable_user(session: Session, user: User, *, actor: Principal, now: datetime) -> User:
    """Disable an account and kill every token it holds."""
    if user.id == actor.user_id:
        raise RuleViolation("Không thể tự khóa tài khoản của mình.", type="account.self_disable")
    if user.is_active:
        user.is_active = False
        user.disabled_at = now
        session.execute(
            update(ApiToken)
            .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        session.flush()
        audit.record(
            session, actor=actor, action="user.disabled", stream=f"user:{user.id}", now=now
        )
    return user


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: datetime
    user: User


@dataclass(frozen=True)
class ThrottlePolicy:
    """How failed logins slow down further attempts (docs/accounts.md, "Login throttling").

    ``per_account_client`` and ``per_client`` are hard limits over ``window`` on what one
    client address may try; they never touch other clients. ``account_free_failures`` failures
    of one account (from anywhere) within ``account_window`` switch the account to progressive
    delays: from then on, clients that are not a known device of the account wait
    ``2 ** (failures - account_free_failures + 1)`` seconds (at most ``account_max_delay``)
    after the account's last failure, and then one attempt is let through for all of them.
    A known device (one that logged in to the account before: see :func:`device_token`) skips
    all of this and has its own limit, ``per_device`` failures over ``window``.
    """

    per_account_client: int
    per_client: int
    window: timedelta
    account_free_failures: int = 10
    account_window: timedelta = timedelta(hours=24)
    account_max_delay: int = 900
    per_device: int = 5
    device_days: int = 180


THROTTLED_MESSAGE = "Đăng nhập sai quá nhiều lần; vui lòng thử lại sau ít phút."


def throttled(retry_after: int, type: str = "auth.throttled") -> TooManyRequests:
    return TooManyRequests(
        THROTTLED_MESSAGE, type=type, headers={"Retry-After": str(max(1, retry_after))}
    )


# ---- known devices -----------------------------------------------------------------------------
# A device token is handed out with every successful login and sent back with the next login
# from the same browser or app. It proves that this client once knew the account's password, so
# it is trusted past the account-wide delays an attacker's guesses cause (OWASP "Slow Down
# Online Guessing Attacks with Device Cookies"). It is stateless: an HMAC of the username, a
# random device id and the issue day, with a key derived from SECRET_KEY.

DEVICE_TOKEN_MAX_LENGTH = 100


def _device_mac(key: bytes, username: str, device: str, day: int) -> str:
    msg = f"onestop-login-device|{username}|{device}|{day}".encode()
    digest = hmac.new(key, msg, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")[:32]


def device_token(key: bytes, username: str, device: str, *, now: datetime) -> str:
    """The device token of ``device`` for ``username``, issued today."""
    day = int(now.timestamp()) // 86_400
    return f"{device}.{day}.{_device_mac(key, username, device, day)}"


def known_device(
    key: bytes, username: str, token: str | None, *, now: datetime, max_days: int
) -> str | None:
    """The device id carried by ``token`` if it is genuine, for ``username`` and recent enough;
    else None (a forged, foreign or stale token is simply ignored, never an error)."""
    if not token or len(token) > DEVICE_TOKEN_MAX_LENGTH:
        return None
    parts = token.split(".")
    if len(parts) != 3 or not parts[1].isdigit() or not 8 <= len(parts[0]) <= 32:
        return None
    device, day_text, mac = parts
    day = int(day_text)
    username = username.strip().lower()
    if not hmac.compare_digest(mac, _device_mac(key, username, device, day)):
        return None
    age = int(now.timestamp()) // 86_400 - day
    return device if 0 <= age <= max_days else None


def new_device_id() -> str:
    return secrets.token_urlsafe(12)  # 96 bits, 16 characters


# ---- login -------------------------------------------------------------------------------------


def _failures(session: Session, *conditions: Any) -> int:
    return int(
        session.scalar(select(func.count()).select_from(LoginFailure).where(*conditions)) or 0
    )


@dataclass(frozen=True)
class AccountDelay:
    """An account under progressive delays: unknown clients wait ``seconds`` after its last
    failure, then one of them (all workers together) gets the next attempt."""

    username: str
    seconds: int
    last_failure_at: datetime

    def remaining(self, now: datetime) -> int:
        """Whole seconds still to wait (0: an attempt may be claimed now)."""
        left = (self.last_failure_at + timedelta(seconds=self.seconds) - now).total_seconds()
        return max(0, math.ceil(left))

    @property
    def slot(self) -> str:
        """The shared-store bucket of the one attempt allowed after this failure."""
        stamp = int(self.last_failure_at.timestamp() * 1_000_000)
        return f"login:account:{self.username}:{stamp}"


def check_throttle(
    session: Session,
    username: str,
    *,
    client: str,
    device: str | None,
    now: datetime,
    policy: ThrottlePolicy,
) -> AccountDelay | None:
    """Refuse (429) a login attempt over a hard limit; return the account's delay, which the
    caller enforces for clients that are not known devices (see :class:`AccountDelay`).

    Reads only: the caller claims the attempt in the shared rate-limit store, outside any unit
    of work, so that attempts fired at once from many addresses still get one.
    """
    username = username.strip().lower()
    since = now - policy.window
    if device is not None:
        # A known device answers only for its own mistakes: an attacker's guesses from
        # anywhere, even from the same address, never slow the owner's own devices down.
        used = _failures(
            session,
            LoginFailure.username == username,
            LoginFailure.device == device,
            LoginFailure.at > since,
        )
        if used >= policy.per_device:
            raise throttled(int(policy.window.total_seconds()))
        return None
    pair = _failures(
        session,
        LoginFailure.username == username,
        LoginFailure.client == client,
        LoginFailure.at > since,
    )
    from_client = _failures(session, LoginFailure.client == client, LoginFailure.at > since)
    if pair >= policy.per_account_client or from_client >= policy.per_client:
        raise throttled(int(policy.window.total_seconds()))
    count, last = session.execute(
        select(func.count(), func.max(LoginFailure.at)).where(
            LoginFailure.username == username, LoginFailure.at > now - policy.account_window
        )
    ).one()
    if count < policy.account_free_failures or last is None:
        return None
    steps = count - policy.account_free_failures + 1
    seconds = policy.account_max_delay if steps >= 30 else min(2**steps, policy.account_max_delay)
    if last.tzinfo is None:  # SQLite hands aggregates back without the column's type
        last = datetime.fromisoformat(str(last)).replace(tzinfo=UTC)
    return AccountDelay(username=username, seconds=seconds, last_failure_at=last)


def login(
    session: Session,
    username: str,
    password: str,
    *,
    client: str,
    now: datetime,
    ttl: timedelta,
    device: str | None = None,
) -> IssuedToken:
    """Check a password and issue a bearer token; :func:`check_throttle` comes first.

    Throttling never locks an account (OWASP Authentication Cheat Sheet, "account lockout"
    caveat; NIST SP 800-63B §5.2.2): see :class:`ThrottlePolicy`.
    """
    username = username.strip().lower()
    user = session.scalar(select(User).where(User.username == username))
    ok = _verify(user.password_hash if user else None, password)
    if not ok or user is None or not user.is_active:
        # The caller records the failure in its own unit of work (this one rolls back).
        raise Unauthenticated(
            "Tên đăng nhập hoặc mật khẩu không đúng.", type="auth.invalid_credentials"
        )
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    session.execute(
        delete(LoginFailure).where(LoginFailure.username == username, LoginFailure.client == client)
    )
    if device is not None:
        session.execute(
            delete(LoginFailure).where(
                LoginFailure.username == username, LoginFailure.device == device
            )
        )
    token = secrets.token_urlsafe(32)  # 256 bits from the OS CSPRNG
    row = ApiToken(
        user_id=user.id, token_hash=token_digest(token), created_at=now, expires_at=now + ttl
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=None,
        action="auth.login",
        stream=f"user:{user.id}",
        now=now,
        data={"token_id": row.id},
    )
    return IssuedToken(token=token, expires_at=row.expires_at, user=user)


def record_login_failure(
    session: Session, username: str, *, client: str, now: datetime, device: str | None = None
) -> None:
    session.add(
        LoginFailure(
            username=username.strip().lower()[:120], client=client[:64], device=device, at=now
        )
    )
    session.flush()


def logout(session: Session, *, actor: Principal, now: datetime) -> None:
    session.execute(
        update(ApiToken)
        .where(ApiToken.id == actor.token_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    audit.record(
        session,
        actor=actor,
        action="auth.logout",
        stream=f"user:{actor.user_id}",
        now=now,
        data={"token_id": actor.token_id},
    )


def authenticate(session: Session, token: str, *, now: datetime) -> Principal | None:
    """The principal a bearer token stands for, or None if unknown, expired or revoked."""
    if len(token) > 200:
        return None
    # One query for the token, its user and the user's memberships (one row per membership),
    # run on every authenticated request: no separate load of the memberships, and not the
    # whole user row (its password hash is not needed here).
    rows = session.execute(
        select(ApiToken.id, User.id, User.username, User.role, Membership.agency_id)
        .join(User, User.id == ApiToken.user_id)
        .outerjoin(Membership, Membership.user_id == User.id)
        .where(
            ApiToken.token_hash == token_digest(token),
            ApiToken.revoked_at.is_(None),
            ApiToken.expires_at > now,
            User.is_active.is_(True),
        )
    ).all()
    if not rows:
        return None
    token_id, user_id, username, role, _ = rows[0]
    memberships = [row.agency_id for row in rows if row.agency_id is not None]
    return Principal(
        user_id=user_id,
        username=username,
        role=Role(role),
        agency_ids=subtree_ids(session, memberships),
        token_id=token_id,
    )
