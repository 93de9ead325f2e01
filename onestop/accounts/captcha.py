"""The CAPTCHA hook of the login: an interface and a setting, no provider.

A deployment that wants a challenge instead of a wait plugs a verifier in with the setting
``LOGIN_CAPTCHA_VERIFIER`` (``"package.module:function"``) or :func:`set_verifier`. It is asked
only when an account is under progressive delays (docs/accounts.md, "Login throttling"); a
client that solved the challenge may then try without waiting for the account's next slot, but
stays under the per-client and per-(account, client) limits.
"""

from __future__ import annotations

import importlib
from typing import Any, Protocol

EXTENSION_KEY = "onestop.login_captcha"


class CaptchaVerifier(Protocol):
    def __call__(self, response: str, *, client: str) -> bool:
        """True when ``response`` (what the client sent as ``captcha``) is a solved challenge
        issued to ``client``; must not raise for a malformed or replayed response."""
        ...


def set_verifier(app: Any, verifier: CaptchaVerifier | None) -> None:
    app.extensions[EXTENSION_KEY] = verifier


def load_from_config(app: Any) -> None:
    """Import the verifier named by ``LOGIN_CAPTCHA_VERIFIER``, if any; fail at start-up, not at
    the first login, when the name is wrong."""
    name = app.config.get("LOGIN_CAPTCHA_VERIFIER")
    if not name:
        app.extensions.setdefault(EXTENSION_KEY, None)
        return
    module_name, _, attr = str(name).partition(":")
    verifier = getattr(importlib.import_module(module_name), attr or "verify")
    if not callable(verifier):
        raise TypeError(f"LOGIN_CAPTCHA_VERIFIER={name!r} is not callable")
    set_verifier(app, verifier)


def verifier_of(app: Any) -> CaptchaVerifier | None:
    verifier: CaptchaVerifier | None = app.extensions.get(EXTENSION_KEY)
    return verifier
