"""Content-Security-Policy of the interactive API documentation page (``/api/v1/docs``).

The page is flask-smorest's Swagger UI template: the bundle and stylesheet are served from
``/api/v1/docs/assets/`` and one inline ``<script>`` starts it. Rather than allow every inline
script, the policy lists the SHA-256 of the inline scripts the page actually holds, so an
injected script would not run; ``frame-ancestors 'none'`` keeps the page out of other sites'
frames (clickjacking, OWASP ASVS 5.0 V3.4.6).
"""

from __future__ import annotations

import base64
import hashlib
import re

_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL)


def docs_page_policy(html: bytes) -> str:
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(body).digest()).decode() + "'"
        for body in _INLINE_SCRIPT.findall(html)
    )
    return (
        "default-src 'none'; "
        f"script-src 'self' {hashes}; "
        # Swagger UI sets style attributes from its scripts.
        "style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; "
        "connect-src 'self'; "
        "font-src 'self'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
