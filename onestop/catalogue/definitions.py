"""Frozen plain-data procedure definitions loaded from ``procedures/``; no Flask, no database."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import time
from enum import StrEnum
from typing import Any

from onestop.worktime.policy import Channel, Duration, TimeUnit

# The catalogue speaks the worktime vocabulary: one channel enum, one duration, one time unit.
# ``ChannelKind`` and ``DurationUnit`` are the names this module has always used for them.
ChannelKind = Channel
DurationUnit = TimeUnit


class Level(StrEnum):
    """Level of government that handles the procedure (two levels since 01/07/2025)."""

    PROVINCE = "province"
    COMMUNE = "commune"


class OnlineLevel(StrEnum):
    """Online service level under Decree 42/2022/NĐ-CP: toàn trình (full) or một phần (partial)."""

    FULL = "full"
    PARTIAL = "partial"


class StepRole(StrEnum):
    """Role of a processing step on the control slip (form 06, Circular 03/2025/TT-VPCP)."""

    RECEPTION = "reception"
    PROCESSING = "processing"
    APPROVAL = "approval"
    RETURN = "return"


@dataclass(frozen=True, slots=True)
class Fee:
    """A fee or charge (phí, lệ phí) in VND; 0 means free, None means set locally, see notes."""

    name: str
    amount: int | None
    notes: str | None
    exemptions: str | None


@dataclass(frozen=True, slots=True)
class ChannelOption:
    """One way to apply, with its statutory processing time and fees."""

    channel: ChannelKind
    processing_time: Duration
    fees: tuple[Fee, ...]
    notes: str | None


@dataclass(frozen=True, slots=True)
class DocumentSlot:
    """One required (or optional) document; ``slot`` is the stable code dossiers attach to."""

    slot: str
    name: str
    originals: int
    copies: int
    required: bool
    form: str | None


@dataclass(frozen=True, slots=True)
class DocumentGroup:
    """The documents for one case (trường hợp) of the procedure."""

    case: str
    documents: tuple[DocumentSlot, ...]


@dataclass(frozen=True, slots=True)
class Sector:
    """Sector (lĩnh vực); the national code when it is known."""

    code: str | None
    name: str


@dataclass(frozen=True, slots=True)
class OfferedBy:
    """Which desks offer the procedure: every commune, or a list of agency codes."""

    all_communes: bool
    agencies: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ClockPolicy:
    """How the clock runs for this procedure (kept with the dossier at receipt)."""

    max_supplement_requests: int
    payment_pauses_clock: bool
    same_day_cutoff: time


@dataclass(frozen=True, slots=True)
class ProcessingStep:
    """One internal step with its time budget; budgets add up to at most the statutory time."""

    code: str
    name: str
    role: StepRole
    budget: Duration


@dataclass(frozen=True, slots=True)
class ProcedureDefinition:
    """One procedure as published, plus our clock policy and internal steps."""

    code: str
    decision: str
    source_url: str
    name: str
    level: Level
    sector: Sector
    steps: tuple[str, ...]
    channels: tuple[ChannelOption, ...]
    document_groups: tuple[DocumentGroup, ...]
    applicants: tuple[str, ...]
    competent_body: str
    coordinating_bodies: tuple[str, ...]
    result: str
    legal_basis: tuple[str, ...]
    conditions: tuple[str, ...]
    full_online_eligible: bool
    online_level: OnlineLevel
    offered_by: OfferedBy
    clock: ClockPolicy
    processing_steps: tuple[ProcessingStep, ...]
    notes: tuple[str, ...]
    source_file: str
    content_hash: str
    canonical: str

    def to_dict(self) -> dict[str, Any]:
        """The validated file content as plain JSON data (what is stored with a version)."""
        return json.loads(self.canonical)

    def channel(self, kind: ChannelKind | str) -> ChannelOption | None:
        """The channel option for ``kind``, or None when the procedure does not offer it."""
        for option in self.channels:
            if option.channel == kind:
                return option
        return None

    def processing_time(self, kind: Channel | str) -> Duration:
        """The statutory processing time for a channel; KeyError if the channel is not offered.
        The one place the processing time of a procedure and channel is read."""
        option = self.channel(kind)
        if option is None:
            raise KeyError(f"{self.code} is not offered through {kind}")
        return option.processing_time

    def offered_at(self, agency_code: str, *, agency_is_commune: bool) -> bool:
        """Whether the desk of ``agency_code`` offers this procedure."""
        if self.offered_by.all_communes:
            return agency_is_commune
        return agency_code in self.offered_by.agencies


def canonical_json(content: dict[str, Any]) -> str:
    """The one JSON text a content dict hashes to: sorted keys, no spaces, UTF-8 kept."""
    return json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def content_hash(content: dict[str, Any]) -> str:
    """sha256 of the canonical JSON: formatting, comments and key order do not change it."""
    return hashlib.sha256(canonical_json(content).encode("utf-8")).hexdigest()


def _duration(raw: dict[str, Any]) -> Duration:
    return Duration(amount=raw["amount"], unit=TimeUnit(raw["unit"]))


def definition_from_content(content: dict[str, Any], *, source_file: str) -> ProcedureDefinition:
    """Build the frozen definition from content that already passed the file schema."""
    channels = tuple(
        ChannelOption(
            channel=ChannelKind(kind),
            processing_time=_duration(raw["processing_time"]),
            fees=tuple(
                Fee(
                    name=fee["name"],
                    amount=fee["amount"],
                    notes=fee.get("notes"),
                    exemptions=fee.get("exemptions"),
                )
                for fee in raw["fees"]
            ),
            notes=raw.get("notes"),
        )
        # A fixed order keeps the definition independent of the order keys had in the file.
        for kind in ChannelKind
        if (raw := content["channels"].get(str(kind))) is not None
    )
    offered = content["offered_by"]
    clock = content["clock"]
    hour, minute = (int(part) for part in clock["same_day_cutoff"].split(":"))
    return ProcedureDefinition(
        code=content["code"],
        decision=content["decision"],
        source_url=content["source_url"],
        name=content["name"],
        level=Level(content["level"]),
        sector=Sector(code=content["sector"].get("code"), name=content["sector"]["name"]),
        steps=tuple(content["steps"]),
        channels=channels,
        document_groups=tuple(
            DocumentGroup(
                case=group["case"],
                documents=tuple(
                    DocumentSlot(
                        slot=doc["slot"],
                        name=doc["name"],
                        originals=doc["originals"],
                        copies=doc["copies"],
                        required=doc["required"],
                        form=doc.get("form"),
                    )
                    for doc in group["documents"]
                ),
            )
            for group in content["document_groups"]
        ),
        applicants=tuple(content["applicants"]),
        competent_body=content["competent_body"],
        coordinating_bodies=tuple(content["coordinating_bodies"]),
        result=content["result"],
        legal_basis=tuple(content["legal_basis"]),
        conditions=tuple(content["conditions"]),
        full_online_eligible=content["full_online_eligible"],
        online_level=OnlineLevel(content["online_level"]),
        offered_by=OfferedBy(
            all_communes=offered.get("kind") == "commune",
            agencies=tuple(offered.get("agencies", ())),
        ),
        clock=ClockPolicy(
            max_supplement_requests=clock["max_supplement_requests"],
            payment_pauses_clock=clock["payment_pauses_clock"],
            same_day_cutoff=time(hour, minute),
        ),
        processing_steps=tuple(
            ProcessingStep(
                code=step["code"],
                name=step["name"],
                role=StepRole(step["role"]),
                budget=_duration(step["budget"]),
            )
            for step in content["processing_steps"]
        ),
        notes=tuple(content["notes"]),
        source_file=source_file,
        content_hash=content_hash(content),
        canonical=canonical_json(content),
    )
