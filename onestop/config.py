"""Every setting with its default, ONESTOP_* environment overrides, and start-up validation."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask

from onestop.core.audit import DEV_AUDIT_KEYS, MIN_KEY_LENGTH, parse_keys

# The development key is only accepted when ENV is "development" or TESTING is on; any other
# deployment must set ONESTOP_SECRET_KEY (ASVS 5.0 V13: no default secrets in production).
DEV_SECRET_KEY = "dev-only-not-secret"  # noqa: S105 - refused outside development


@dataclass(frozen=True)
class Default:
    value: Any
    help: str


DEFAULTS: dict[str, Default] = {
    "ENV": Default("production", "development | production; development relaxes the secret check"),
    "SECRET_KEY": Default(None, "required outside development and tests"),
    "DATABASE_URL": Default(
        None, "SQLAlchemy URL; default: SQLite file onestop.sqlite3 in the instance folder"
    ),
    "DATABASE_ECHO": Default(False, "log every SQL statement (debugging only)"),
    "SQLITE_BUSY_TIMEOUT_MS": Default(30_000, "how long a SQLite writer waits for the lock"),
    "TIMEZONE": Default("Asia/Ho_Chi_Minh", "business dates are computed in this zone"),
    "TOKEN_TTL_HOURS": Default(12, "lifetime of a bearer token (a working day and a half)"),
    "LOGIN_MAX_FAILURES_PER_ACCOUNT_CLIENT": Default(
        5, "failed logins for one account from one client before that pair is throttled"
    ),
    "LOGIN_MAX_FAILURES_PER_CLIENT": Default(
        30, "failed logins from one client (any account) before that client is throttled"
    ),
    "LOGIN_THROTTLE_WINDOW_MINUTES": Default(15, "window over which failed logins are counted"),
    # Per-account progressive delays, never a lockout (docs/accounts.md, "Login throttling").
    "LOGIN_ACCOUNT_FREE_FAILURES": Default(
        10, "failed logins of one account (from anywhere) before unknown clients are slowed"
    ),
    "LOGIN_ACCOUNT_WINDOW_HOURS": Default(24, "window over which an account's failures count"),
    "LOGIN_ACCOUNT_MAX_DELAY_SECONDS": Default(
        900, "longest wait between two attempts on an account under attack (2, 4, 8 … seconds)"
    ),
    "LOGIN_MAX_FAILURES_PER_DEVICE": Default(
        5, "failed logins from one known device (device token) before it is throttled"
    ),
    "LOGIN_DEVICE_TOKEN_DAYS": Default(180, "how long a device token marks a known device"),
    "LOGIN_CAPTCHA_VERIFIER": Default(
        None, "module:function checking a solved CAPTCHA instead of the account delay; unset: none"
    ),
    "REGISTRATION_RATE_LIMIT_PER_CLIENT_PER_HOUR": Default(
        20, "account registrations per client address per hour (each one is an Argon2 hash)"
    ),
    "DOSSIER_SUBMIT_RATE_LIMIT_PER_ACCOUNT_PER_HOUR": Default(
        10, "online submissions per citizen account per hour"
    ),
    "DOSSIER_SUBMIT_RATE_LIMIT_PER_CLIENT_PER_HOUR": Default(
        60, "online submissions per client address per hour (all citizens behind it)"
    ),
    "DOSSIER_MAX_OPEN_SUBMITTED_PER_CITIZEN": Default(
        5, "dossiers a citizen may have submitted and not yet received by a desk"
    ),
    "UPLOAD_MAX_CITIZEN_BYTES_PER_DAY": Default(
        200 * 1024 * 1024, "bytes a citizen may upload in 24 hours, replaced files included"
    ),
    "PAGE_SIZE_MAX": Default(100, "largest page a list endpoint returns"),
    "MAX_CONTENT_LENGTH": Default(
        60 * 1024 * 1024,
        "largest request body of any route, in bytes; each route has a smaller limit of its own",
    ),
    "JSON_MAX_BYTES": Default(
        1024 * 1024, "largest request body of a route that is not an upload (a dossier is a few KB)"
    ),
    "JSON_MAX_DEPTH": Default(32, "deepest nesting of arrays and objects in a JSON body"),
    "JSON_MAX_ITEMS": Default(10_000, "most values (keys and items) in one JSON body"),
    "UPLOAD_MAX_FILE_BYTES": Default(10 * 1024 * 1024, "largest uploaded document"),
    "UPLOAD_MAX_DOSSIER_BYTES": Default(50 * 1024 * 1024, "largest total upload per dossier"),
    "STORAGE_DIR": Default(None, "where documents are stored; default: instance/storage"),
    "PUBLIC_BASE_URL": Default(
        "http://127.0.0.1:8000", "base URL printed in QR codes and links for citizens"
    ),
    "PROCEDURES_DIR": Default(None, "catalogue folder; default: procedures/ beside the package"),
    "REDIS_URL": Default(None, "shared rate-limit storage; default: the database"),
    "LOOKUP_RATE_LIMIT_PER_MINUTE": Default(30, "public status lookups per client per minute"),
    "LOOKUP_RATE_LIMIT_PER_CODE_PER_MINUTE": Default(
        10, "public status lookups of one dossier code per minute, from all clients together"
    ),
    "RATE_LIMIT_KEY_PREFIX": Default(
        "onestop:rl:", "prefix of rate-limit keys in Redis (several deployments may share one)"
    ),
    "SIGNING_PKCS12_PATH": Default(
        None, "PKCS#12 file of the agency's signing certificate; unset: issued PDFs are unsigned"
    ),
    "SIGNING_PKCS12_PASSWORD": Default(None, "password of SIGNING_PKCS12_PATH (never logged)"),
    "DOCUMENT_VERIFY_MAX_BYTES": Default(
        5 * 1024 * 1024, "largest PDF accepted by POST /api/v1/documents/verify"
    ),
    "DOCUMENT_VERIFY_RATE_LIMIT_PER_MINUTE": Default(
        30, "public document verifications per client per minute"
    ),
    "AUDIT_KEYS": Default(
        None,
        "audit-chain HMAC keys, 'id:secret' separated by commas, the first signs new events;"
        " required outside development and tests (docs/security.md)",
    ),
    "AUDIT_CHECKPOINT_FILE": Default(
        None,
        "append-only file of audit stream heads, outside the database;"
        " default: instance/audit-checkpoints.jsonl",
    ),
    "IDEMPOTENCY_RETENTION_HOURS": Default(
        24, "how long a reply is kept for Idempotency-Key retries before it is deleted"
    ),
    "METRICS_TOKEN": Default(
        None, "bearer token that may read /metrics; unset: only clients on this machine"
    ),
    "LOG_FORMAT": Default("json", "json (one object per line, with the request id) or text"),
    "QUEUE_DUE_SOON_SHARE": Default(
        0.2,
        "a running dossier is due soon when less than this share of its processing time is left "
        "(in working time); between 0 and 1",
    ),
    "TRUST_PROXY_HOPS": Default(
        0, "number of reverse proxies whose X-Forwarded-For is trusted for the client address"
    ),
}


class ConfigError(RuntimeError):
    """Raised at start-up when a setting is missing or wrong; the message names the setting."""


def _coerce(raw: str, default: Any) -> Any:
    if isinstance(default, bool):
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if isinstance(default, int):
        return int(raw)
    return raw


def load_config(app: Flask, test_config: dict[str, Any] | None) -> None:
    """Defaults, then ``ONESTOP_*`` environment variables, then the test config.

    The defaults are assigned, not ``setdefault``: Flask defines some of the same keys itself
    (``MAX_CONTENT_LENGTH = None``, ``SECRET_KEY = None``), and a ``setdefault`` would keep
    Flask's value and silently lose ours (``tests/test_config.py`` checks every default as an
    application built without overrides sees it).
    """
    for key, default in DEFAULTS.items():
        app.config[key] = default.value
    for key, raw in os.environ.items():
        if not key.startswith("ONESTOP_"):
            continue
        name = key.removeprefix("ONESTOP_")
        default = DEFAULTS.get(name)
        try:
            app.config[name] = _coerce(raw, default.value if default else "")
        except ValueError as exc:
            raise ConfigError(f"{key}={raw!r} is not valid: {exc}") from exc
    if test_config:
        app.config.update(test_config)

    instance = Path(app.instance_path)
    if not app.config["DATABASE_URL"]:
        app.config["DATABASE_URL"] = f"sqlite:///{instance / 'onestop.sqlite3'}"
    if not app.config["STORAGE_DIR"]:
        app.config["STORAGE_DIR"] = str(instance / "storage")
    if not app.config["AUDIT_CHECKPOINT_FILE"]:
        app.config["AUDIT_CHECKPOINT_FILE"] = str(instance / "audit-checkpoints.jsonl")
    if not app.config["PROCEDURES_DIR"]:
        app.config["PROCEDURES_DIR"] = str(Path(app.root_path).parent / "procedures")
    validate_config(app)


def validate_config(app: Flask) -> None:
    cfg = app.config
    relaxed = cfg.get("TESTING") or cfg["ENV"] == "development"
    if not cfg.get("SECRET_KEY"):
        if not relaxed:
            raise ConfigError(
                "ONESTOP_SECRET_KEY is not set. Set it to a long random value "
                '(python -c "import secrets; print(secrets.token_urlsafe(48))"), '
                "or set ONESTOP_ENV=development on a development machine."
            )
        cfg["SECRET_KEY"] = DEV_SECRET_KEY
    elif cfg["SECRET_KEY"] == DEV_SECRET_KEY and not relaxed:
        raise ConfigError("ONESTOP_SECRET_KEY is the development key; set a real one.")
    _validate_audit_keys(cfg, relaxed=bool(relaxed))
    if cfg["LOG_FORMAT"] not in {"json", "text"}:
        raise ConfigError(f"ONESTOP_LOG_FORMAT must be json or text, not {cfg['LOG_FORMAT']!r}")
    if cfg["ENV"] not in {"development", "production"}:
        raise ConfigError(f"ONESTOP_ENV must be development or production, not {cfg['ENV']!r}")
    url = str(cfg["DATABASE_URL"])
    if not url.startswith(("sqlite", "postgresql")):
        raise ConfigError(
            f"ONESTOP_DATABASE_URL must be a sqlite:/// or postgresql+psycopg:// URL, not {url!r}"
        )
    try:
        share = float(cfg["QUEUE_DUE_SOON_SHARE"])
    except (TypeError, ValueError):
        share = -1.0
    if not 0 < share < 1:
        raise ConfigError(
            "ONESTOP_QUEUE_DUE_SOON_SHARE must be a number between 0 and 1 (e.g. 0.2)"
        )
    cfg["QUEUE_DUE_SOON_SHARE"] = share
    for key in (
        "TOKEN_TTL_HOURS",
        "PAGE_SIZE_MAX",
        "UPLOAD_MAX_FILE_BYTES",
        "MAX_CONTENT_LENGTH",
        "JSON_MAX_BYTES",
        "JSON_MAX_DEPTH",
        "JSON_MAX_ITEMS",
        "DOCUMENT_VERIFY_MAX_BYTES",
        "IDEMPOTENCY_RETENTION_HOURS",
    ):
        if int(cfg[key]) <= 0:
            raise ConfigError(f"ONESTOP_{key} must be positive")


def _validate_audit_keys(cfg: Any, *, relaxed: bool) -> None:
    """The audit chain's keys, like the secret key: a development default, refused elsewhere
    (docs/security.md, "Audit trail")."""
    if not cfg.get("AUDIT_KEYS"):
        if not relaxed:
            raise ConfigError(
                "ONESTOP_AUDIT_KEYS is not set. Set it to 'id:secret' with a long random secret "
                "(python -c \"import secrets; print('a1:' + secrets.token_urlsafe(48))\"), "
                "or set ONESTOP_ENV=development on a development machine."
            )
        cfg["AUDIT_KEYS"] = DEV_AUDIT_KEYS
    try:
        ring = parse_keys(str(cfg["AUDIT_KEYS"]))
    except ValueError as exc:
        raise ConfigError(f"ONESTOP_AUDIT_KEYS is not valid: {exc}") from exc
    if relaxed:
        return
    dev = parse_keys(DEV_AUDIT_KEYS)
    for key_id, secret in ring.keys.items():
        if secret in dev.keys.values():
            raise ConfigError("ONESTOP_AUDIT_KEYS holds the development key; set a real one.")
        if len(secret) < MIN_KEY_LENGTH:
            raise ConfigError(
                f"ONESTOP_AUDIT_KEYS: key {key_id!r} is shorter than {MIN_KEY_LENGTH} characters"
            )
