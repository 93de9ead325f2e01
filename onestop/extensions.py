"""Extension objects, created without an app and bound in ``create_app``."""

from __future__ import annotations

import json
from typing import Any

import marshmallow as ma
from flask_smorest import Api as _Api
from flask_smorest import Blueprint as _Blueprint
from webargs.flaskparser import FlaskParser

from onestop.core.db import Database
from onestop.core.errors import ErrorSchema


class StrictParser(FlaskParser):
    """Unknown fields are an error everywhere, query strings included (a typo in a filter must
    not silently return everything)."""

    DEFAULT_UNKNOWN_BY_LOCATION = {
        "json": ma.RAISE,
        "form": ma.RAISE,
        "json_or_form": ma.RAISE,
        "querystring": ma.RAISE,
        "query": ma.RAISE,
        "headers": ma.EXCLUDE,
        "cookies": ma.EXCLUDE,
        "files": ma.RAISE,
    }

    def _raw_load_json(self, req: Any) -> Any:
        try:
            return super()._raw_load_json(req)
        except RecursionError:
            # json.loads recurses once per nesting level: 100 000 "[" would be a 500, not a 400.
            raise json.JSONDecodeError("JSON nested too deeply", "<body>", 0) from None


class Blueprint(_Blueprint):
    ARGUMENTS_PARSER = StrictParser()


class Api(_Api):
    ERROR_SCHEMA = ErrorSchema


db = Database()
api = Api()
