"""What the JSON lookup and the QR page share at the boundary: private headers and rate limits.

Both read the request (the client's address) and the configuration, so this is not a service;
it sits beside the two views, which import it and not each other.
"""

from __future__ import annotations

from flask import Response, current_app

from onestop.core import ratelimit
from onestop.core.access import client_address
from onestop.core.clock import now
from onestop.core.ratelimit import client_bucket
from onestop.lookup import services

# Replies about a dossier must not be cached, indexed or leak the token in a Referer
# (ASVS 5.0 V14.2.1 and V14.3.2: secrets in URLs leak through caches, logs and referrers).
PRIVATE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
}


def private_headers(resp: Response) -> Response:
    for name, value in PRIVATE_HEADERS.items():
        resp.headers[name] = value
    return resp


def enforce_limits(code: str | None) -> None:
    """Count this lookup against the client's limit and, for typed lookups, the code's limit.

    The per-code limit stops many clients together from guessing one dossier's check code; the
    QR token (192 bits) needs only the per-client limit. Raises 429 with ``Retry-After``.
    """
    cfg = current_app.config
    limits = [
        ratelimit.Limit(
            f"lookup:client:{client_bucket(client_address())}",
            int(cfg["LOOKUP_RATE_LIMIT_PER_MINUTE"]),
        )
    ]
    if code is not None:
        limits.append(
            ratelimit.Limit(
                f"lookup:code:{services.normalise_code(code)}",
                int(cfg["LOOKUP_RATE_LIMIT_PER_CODE_PER_MINUTE"]),
            )
        )
    ratelimit.enforce(
        limits,
        now=now(),
        message="Quá nhiều lượt tra cứu trong thời gian ngắn; vui lòng thử lại sau.",
        type="lookup.rate_limited",
    )
