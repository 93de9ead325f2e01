"""Schema of a file in ``procedures/`` and the validator that reports every error at once.

Long on purpose: the file schema and its cross-field rules are one reading for catalogue authors.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from onestop.catalogue.definitions import (
    ChannelKind,
    Duration,
    DurationUnit,
    Level,
    OnlineLevel,
    ProcedureDefinition,
    StepRole,
    definition_from_content,
)
from onestop.worktime.errors import WorktimeError

PROCEDURE_CODE = r"^\d\.\d{6}$"
# Agency codes (Decision 20/2020/QĐ-TTg): four groups, the last one G (ministry) or H (province).
AGENCY_CODE = r"^\d{3}\.\d{2}\.\d{2}\.[GH]\d{2}$"
SLOT_CODE = r"^[a-z][a-z0-9_]{1,47}$"
STEP_CODE = r"^[a-z][a-z0-9_]{1,31}$"
# Sector codes as published with the national catalogue, e.g. G03-GD10.
SECTOR_CODE = r"^G\d{2}-[A-Z]{2,3}\d{2}$"
CLOCK_TIME = r"^(?:[01]\d|2[0-3]):[0-5]\d$"
# Where the national database publishes procedure records.
SOURCE_HOSTS = frozenset({"dichvucong.gov.vn", "thutuc.dichvucong.gov.vn"})

SCHEMA_KEY = "_schema"


class Text(fields.String):
    """Text a person reads: non-blank, Unicode NFC, no control characters.

    NFC matters because a name typed on a Mac arrives decomposed (NFD) and would not match the
    same name typed elsewhere; the catalogue is the reference, so it must be precomposed.
    """

    default_error_messages = {
        "blank": "Must not be blank.",
        "not_nfc": "Text must be in Unicode NFC (precomposed Vietnamese letters).",
        "control": "Text must not contain control characters.",
    }

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if not text.strip():
            raise self.make_error("blank")
        if unicodedata.normalize("NFC", text) != text:
            raise self.make_error("not_nfc")
        if any(unicodedata.category(ch) == "Cc" and ch != "\n" for ch in text):
            raise self.make_error("control")
        return text


class StrictBoolean(fields.Boolean):
    """A YAML ``true``/``false`` only: "yes", 1 or "on" are rejected rather than guessed."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


def _strict_int(minimum: int, **kwargs: Any) -> fields.Integer:
    return fields.Integer(strict=True, validate=validate.Range(min=minimum), **kwargs)


def _one_of(enum: Iterable[str], **kwargs: Any) -> fields.String:
    return fields.String(validate=validate.OneOf([str(member) for member in enum]), **kwargs)


def _put(errors: dict[str | int, Any], path: tuple[str | int, ...], message: str) -> None:
    """Add ``message`` at ``path`` in a marshmallow-style nested error dict."""
    node = errors
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node.setdefault(path[-1], []).append(message)


class _StrictSchema(Schema):
    class Meta:
        unknown = RAISE


class DurationSchema(_StrictSchema):
    amount = _strict_int(1, required=True)
    unit = _one_of(DurationUnit, required=True)

    @validates_schema
    def same_day_is_one_day(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("unit") == DurationUnit.SAME_DAY and data.get("amount") != 1:
            raise ValidationError("A same_day time always has amount 1.", "amount")


class FeeSchema(_StrictSchema):
    name = Text(required=True)
    # null when the amount is set by a provincial resolution not yet confirmed; a note then says so.
    amount = _strict_int(0, required=True, allow_none=True)
    notes = Text(load_default=None)
    exemptions = Text(load_default=None)

    @validates_schema
    def unknown_amount_explained(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("amount", 0) is None and not data.get("notes"):
            raise ValidationError("An unknown amount (null) needs notes saying why.", "notes")


class ChannelSchema(_StrictSchema):
    processing_time = fields.Nested(DurationSchema, required=True)
    fees = fields.List(fields.Nested(FeeSchema), load_default=list)
    notes = Text(load_default=None)


class ChannelsSchema(_StrictSchema):
    in_person = fields.Nested(ChannelSchema)
    online = fields.Nested(ChannelSchema)
    postal = fields.Nested(ChannelSchema)

    @validates_schema(skip_on_field_errors=False)
    def at_least_one(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not data and not kwargs.get("partial"):
            raise ValidationError("At least one channel (in_person, online, postal) is required.")


class DocumentSchema(_StrictSchema):
    slot = fields.String(
        required=True,
        validate=validate.Regexp(SLOT_CODE, error="Slot codes are lower_snake_case, 2–48 chars."),
    )
    name = Text(required=True)
    originals = _strict_int(0, required=True)
    copies = _strict_int(0, required=True)
    required = StrictBoolean(required=True)
    form = Text(load_default=None)

    @validates_schema
    def some_paper(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("originals", 0) + data.get("copies", 0) < 1:
            raise ValidationError("At least one original or one copy is needed.", "copies")


class DocumentGroupSchema(_StrictSchema):
    case = Text(required=True)
    documents = fields.List(
        fields.Nested(DocumentSchema), required=True, validate=validate.Length(min=1)
    )


class SectorSchema(_StrictSchema):
    code = fields.String(
        load_default=None,
        validate=validate.Regexp(SECTOR_CODE, error="Sector codes look like G03-GD10."),
    )
    name = Text(required=True)


class OfferedBySchema(_StrictSchema):
    kind = fields.String(validate=validate.OneOf(["commune"]))
    agencies = fields.List(
        fields.String(
            validate=validate.Regexp(AGENCY_CODE, error="Agency codes look like 000.00.13.H56.")
        ),
        validate=validate.Length(min=1),
    )

    @validates_schema(skip_on_field_errors=False)
    def exactly_one(self, data: dict[str, Any], **kwargs: Any) -> None:
        if ("kind" in data) == ("agencies" in data):
            raise ValidationError("Give either kind: commune or a list of agencies, not both.")
        agencies = data.get("agencies") or []
        if len(set(agencies)) != len(agencies):
            raise ValidationError("An agency is listed twice.", "agencies")


class ClockSchema(_StrictSchema):
    # Decree 61/2018 (and 118/2025): a supplement may be requested once during processing,
    # unless the sector's law says otherwise.
    max_supplement_requests = fields.Integer(
        strict=True, load_default=1, validate=validate.Range(min=0, max=5)
    )
    # Only where the procedure's own law excludes the time spent paying (e.g. land).
    payment_pauses_clock = StrictBoolean(load_default=False)
    # Same-day procedures received after this time are due at the end of the next working day.
    same_day_cutoff = fields.String(
        load_default="15:00",
        validate=validate.Regexp(CLOCK_TIME, error='Write the time as a quoted "HH:MM".'),
    )


class ProcessingStepSchema(_StrictSchema):
    code = fields.String(
        required=True,
        validate=validate.Regexp(STEP_CODE, error="Step codes are lower_snake_case."),
    )
    name = Text(required=True)
    role = _one_of(StepRole, required=True)
    budget = fields.Nested(DurationSchema, required=True)


class ProcedureFileSchema(_StrictSchema):
    """One file in ``procedures/``: the national record (Decree 63/2010 art. 8) plus our policy."""

    code = fields.String(
        required=True,
        validate=validate.Regexp(PROCEDURE_CODE, error='Procedure codes look like "1.001193".'),
    )
    decision = Text(required=True)
    source_url = fields.Url(required=True, schemes={"https"})
    name = Text(required=True)
    level = _one_of(Level, required=True)
    sector = fields.Nested(SectorSchema, required=True)
    steps = fields.List(Text(), required=True, validate=validate.Length(min=1))
    channels = fields.Nested(ChannelsSchema, required=True)
    document_groups = fields.List(
        fields.Nested(DocumentGroupSchema), required=True, validate=validate.Length(min=1)
    )
    applicants = fields.List(Text(), required=True, validate=validate.Length(min=1))
    competent_body = Text(required=True)
    coordinating_bodies = fields.List(Text(), load_default=list)
    result = Text(required=True)
    legal_basis = fields.List(Text(), required=True, validate=validate.Length(min=1))
    conditions = fields.List(Text(), load_default=list)
    full_online_eligible = StrictBoolean(required=True)
    online_level = _one_of(OnlineLevel, required=True)
    offered_by = fields.Nested(OfferedBySchema, required=True)
    clock = fields.Nested(ClockSchema, required=True)
    processing_steps = fields.List(
        fields.Nested(ProcessingStepSchema), required=True, validate=validate.Length(min=1)
    )
    # Anything not confirmed against the official record is listed here ("chưa xác minh: ...").
    notes = fields.List(Text(), load_default=list)

    # Cross-field rules run even when some fields failed, so one pass reports everything; each
    # rule therefore reads only the fields that loaded.
    @validates_schema(skip_on_field_errors=False)
    def cross_field_rules(self, data: dict[str, Any], **kwargs: Any) -> None:
        errors: dict[str | int, Any] = {}
        self._check_source_url(data, errors)
        self._check_online_level(data, errors)
        self._check_offered_by(data, errors)
        self._check_slots(data, errors)
        self._check_processing_steps(data, errors)
        if errors:
            raise ValidationError(errors)

    @staticmethod
    def _check_source_url(data: Mapping[str, Any], errors: dict[str | int, Any]) -> None:
        url = data.get("source_url")
        if url is None:
            return
        parts = urlsplit(url)
        if parts.hostname not in SOURCE_HOSTS:
            _put(errors, ("source_url",), "Must be a page on dichvucong.gov.vn.")
        code = data.get("code")
        if code and code not in url:
            _put(errors, ("source_url",), f"Must be the record of {code} (the code is missing).")

    @staticmethod
    def _check_online_level(data: Mapping[str, Any], errors: dict[str | int, Any]) -> None:
        level = data.get("online_level")
        channels = data.get("channels")
        eligible = data.get("full_online_eligible")
        if level is None:
            return
        # Decree 42/2022: toàn trình means the whole procedure, payment and result included, is
        # done online, so it needs an online channel; một phần is anything less (even none).
        if level == OnlineLevel.FULL and channels is not None and "online" not in channels:
            _put(errors, ("online_level",), "online_level full needs an online channel.")
        if eligible is not None and eligible != (level == OnlineLevel.FULL):
            _put(
                errors,
                ("full_online_eligible",),
                f"Must be {'true' if level == OnlineLevel.FULL else 'false'} "
                f"when online_level is {level}.",
            )

    @staticmethod
    def _check_offered_by(data: Mapping[str, Any], errors: dict[str | int, Any]) -> None:
        level = data.get("level")
        offered = data.get("offered_by")
        if level is None or offered is None:
            return
        if level == Level.COMMUNE and offered.get("kind") != "commune":
            _put(errors, ("offered_by",), "A commune-level procedure is offered by kind: commune.")
        if level == Level.PROVINCE and "agencies" not in offered:
            _put(errors, ("offered_by",), "A province-level procedure lists its agencies.")

    @staticmethod
    def _check_slots(data: Mapping[str, Any], errors: dict[str | int, Any]) -> None:
        # A slot code names one kind of document for the whole procedure: unique within a case,
        # and when two cases share a slot they must mean the same document.
        names: dict[str, str] = {}
        for g, group in enumerate(data.get("document_groups") or []):
            seen: set[str] = set()
            for d, doc in enumerate(group.get("documents") or []):
                slot = doc.get("slot")
                if slot is None:
                    continue
                path = ("document_groups", g, "documents", d, "slot")
                if slot in seen:
                    _put(errors, path, f"Slot {slot} appears twice in this case.")
                seen.add(slot)
                name = doc.get("name")
                if name is not None and names.setdefault(slot, name) != name:
                    _put(errors, path, f"Slot {slot} names another document in another case.")

    @staticmethod
    def _check_processing_steps(data: Mapping[str, Any], errors: dict[str | int, Any]) -> None:
        steps = data.get("processing_steps") or []
        codes = [step.get("code") for step in steps]
        for i, code in enumerate(codes):
            if code is not None and code in codes[:i]:
                _put(errors, ("processing_steps", i, "code"), f"Step code {code} is repeated.")
        roles = [step.get("role") for step in steps]
        if roles and None not in roles:
            if roles[0] != StepRole.RECEPTION:
                _put(errors, ("processing_steps", 0, "role"), "The first step is reception.")
            if roles[-1] != StepRole.RETURN:
                _put(
                    errors, ("processing_steps", len(roles) - 1, "role"), "The last step is return."
                )
        durations = [_duration_or_none(step.get("budget")) for step in steps]
        if not durations or None in durations:
            return
        for kind in ChannelKind:
            channel = (data.get("channels") or {}).get(str(kind)) or {}
            statutory = _duration_or_none(channel.get("processing_time"))
            if statutory is None:
                continue
            message = _budget_problem(durations, statutory)
            if message:
                _put(errors, ("processing_steps",), f"{message} (channels.{kind}).")


def _duration_or_none(raw: Any) -> Duration | None:
    """The duration if ``raw`` loaded cleanly (cross-field rules also run after field errors)."""
    if not isinstance(raw, Mapping):
        return None
    amount, unit = raw.get("amount"), raw.get("unit")
    if not isinstance(amount, int) or isinstance(amount, bool) or unit not in set(DurationUnit):
        return None
    try:
        return Duration(amount, DurationUnit(unit))
    except WorktimeError:  # negative, or same_day not 1: the field rules report it
        return None


def _show(d: Duration) -> str:
    """A duration as the file writes it (messages of this module are for catalogue authors)."""
    return f"{d.amount} {d.unit.value}"


def _budget_problem(budgets: list[Duration | None], statutory: Duration) -> str | None:
    """Why the step budgets do not fit the statutory time, or None when they fit."""
    if statutory.unit is DurationUnit.CALENDAR_DAYS:
        # Calendar days and working time do not convert; compare like with like.
        if any(b is None or b.unit is not DurationUnit.CALENDAR_DAYS for b in budgets):
            return "Budgets must be in calendar_days when the statutory time is"
        total = sum(b.amount for b in budgets if b is not None)
        if total > statutory.amount:
            return f"Budgets add up to {total} calendar_days, more than {_show(statutory)}"
        return None
    hours = [b.working_hours() if b is not None else None for b in budgets]
    if None in hours:
        return f"calendar_days budgets cannot be compared with {_show(statutory)}"
    total_hours = sum(h for h in hours if h is not None)
    limit = statutory.working_hours()
    if limit is not None and total_hours > limit:
        return (
            f"Budgets add up to {total_hours} working hours, more than the statutory "
            f"{_show(statutory)} ({limit} working hours)"
        )
    return None


@dataclass(frozen=True, slots=True)
class FileError:
    """One problem in one file; ``path`` is the dotted field path, empty for the whole file."""

    file: str
    path: str
    message: str

    def __str__(self) -> str:
        return (
            f"{self.file}: {self.path}: {self.message}"
            if self.path
            else (f"{self.file}: {self.message}")
        )


class CatalogueError(Exception):
    """Raised by :func:`load_folder` when any file is invalid; carries every error."""

    def __init__(self, errors: list[FileError]) -> None:
        super().__init__("\n".join(str(error) for error in errors))
        self.errors = errors


# libyaml's parser when PyYAML was built with it (several times faster); same safe constructors.
_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _UniqueKeyLoader(_SafeLoader):  # type: ignore[misc, valid-type]
    """SafeLoader that refuses a key given twice (plain YAML keeps the last one silently)."""


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    mapping: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in mapping:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping",
                node.start_mark,
                f"found duplicate key {key!r}",
                key_node.start_mark,
            )
        mapping[key] = loader.construct_object(value_node, deep=True)
    return mapping


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_mapping,
)


def _flatten(messages: Any, prefix: str = "") -> Iterable[tuple[str, str]]:
    """Turn marshmallow's nested messages into (dotted path, message) pairs."""
    if isinstance(messages, Mapping):
        for key, value in messages.items():
            if key == SCHEMA_KEY:
                yield from _flatten(value, prefix)
            else:
                yield from _flatten(value, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(messages, list | tuple):
        for message in messages:
            yield from _flatten(message, prefix)
    else:
        yield prefix, str(messages)


def _parse(path: Path) -> tuple[ProcedureDefinition | None, list[FileError], str | None]:
    """Read and validate one file: (definition or None, errors, the code it claims if any)."""
    name = path.name
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)  # noqa: S506
    except UnicodeDecodeError:
        return None, [FileError(name, "", "File is not UTF-8 text.")], None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = " ".join(part for part in (exc.context, exc.problem) if part)
        return None, [FileError(name, "", f"YAML syntax error at {where}{problem}")], None
    except yaml.YAMLError as exc:
        return None, [FileError(name, "", f"YAML syntax error: {exc}")], None
    if not isinstance(raw, dict):
        message = "The file must hold one mapping (key: value) at the top."
        return None, [FileError(name, "", message)], None
    code = raw.get("code") if isinstance(raw.get("code"), str) else None
    try:
        content = ProcedureFileSchema().load(raw)
    except ValidationError as exc:
        errors = [FileError(name, field, message) for field, message in _flatten(exc.messages)]
        return None, sorted(errors, key=lambda e: e.path), code
    return definition_from_content(content, source_file=name), [], code


def parse_file(path: str | Path) -> tuple[ProcedureDefinition | None, list[FileError]]:
    """Read and validate one file; returns the definition or every error found in it."""
    definition, errors, _code = _parse(Path(path))
    return definition, errors


def validate_folder(path: str | Path) -> tuple[list[ProcedureDefinition], list[FileError]]:
    """Validate every ``*.yaml`` file in ``path``; returns the good definitions and all errors.

    Every file is read even after an error, so one run lists every problem in every file,
    including a procedure code claimed by two files (the later file in name order is refused).
    """
    folder = Path(path)
    if not folder.is_dir():
        return [], [FileError(str(folder), "", "Folder not found.")]
    definitions: list[ProcedureDefinition] = []
    errors: list[FileError] = []
    for stray in sorted(folder.glob("*.yml")):
        errors.append(FileError(stray.name, "", "Procedure files use the .yaml extension."))
    owners: dict[str, str] = {}
    for file in sorted(folder.glob("*.yaml")):
        definition, file_errors, code = _parse(file)
        errors.extend(file_errors)
        if code is not None:
            first = owners.setdefault(code, file.name)
            if first != file.name:
                errors.append(
                    FileError(file.name, "code", f"Procedure {code} is already in {first}.")
                )
                continue
        if definition is not None:
            definitions.append(definition)
    return definitions, errors


def load_folder(path: str | Path) -> list[ProcedureDefinition]:
    """All definitions in ``path``; raises :class:`CatalogueError` if any file is invalid."""
    definitions, errors = validate_folder(path)
    if errors:
        raise CatalogueError(errors)
    return definitions
