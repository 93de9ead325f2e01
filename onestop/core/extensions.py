"""Extension objects, created without an app and bound in ``create_app`` (the database handle
and the API with its strict argument parser)."""

from __future__ import annotations

import json
from typing import Any

import marshmallow as ma
from flask import current_app
from flask_smorest import Api as _Api
from flask_smorest import Blueprint as _Blueprint
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request

from onestop.core.db import Database
from onestop.core.errors import ErrorSchema
from onestop.core.guards import bad_text, check_body_size, check_json_shape


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

    def _load_location_data(self, *, schema: ma.Schema, req: Any, location: str) -> Any:
        data = super()._load_location_data(schema=schema, req=req, location=location)
        problems = _find_bad_characters(data)
        if problems:
            raise ma.ValidationError(
                problems if isinstance(problems, dict) else {"_body": problems}
            )
        return data

    def _raw_load_json(self, req: Any) -> Any:
        if not is_json_request(req):
            return core.missing
        raw = req.get_data(cache=True)  # read at most one byte past the route's limit
        check_body_size(raw)
        cfg = current_app.config
        check_json_shape(
            raw, max_depth=int(cfg["JSON_MAX_DEPTH"]), max_items=int(cfg["JSON_MAX_ITEMS"])
        )
        try:
            return core.parse_json(raw)
        except RecursionError:
            # Unbalanced "[[[[…" passes the shape scan (it is malformed, not deep JSON) and
            # json.loads recurses once per level: a 400, not a 500.
            raise json.JSONDecodeError("JSON nested too deeply", "<body>", 0) from None


_BAD_CHARACTER = "Không được chứa ký tự NUL hoặc ký tự Unicode không hợp lệ."


def _find_bad_characters(value: Any) -> Any:
    """Errors shaped like marshmallow's (nested by field, lists by index), or None."""
    if isinstance(value, str):
        return [_BAD_CHARACTER] if bad_text(value) else None
    if isinstance(value, list | tuple):
        found = {i: e for i, item in enumerate(value) if (e := _find_bad_characters(item))}
        return found or None
    if isinstance(value, dict) or hasattr(value, "items"):
        found = {}
        for key in value:
            if isinstance(key, str) and bad_text(key):
                return [_BAD_CHARACTER]
            items = value.getlist(key) if hasattr(value, "getlist") else [value[key]]
            errors = [e for item in items if (e := _find_bad_characters(item))]
            if errors:
                found[key] = errors[0]
        return found or None
    return None


class Blueprint(_Blueprint):
    ARGUMENTS_PARSER = StrictParser()


class Api(_Api):
    ERROR_SCHEMA = ErrorSchema


db = Database()
api = Api()
