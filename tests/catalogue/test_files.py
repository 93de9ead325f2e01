"""The procedure files shipped in ``procedures/`` and the validator that guards them."""

from __future__ import annotations

import copy
import unicodedata
from pathlib import Path
from typing import Any

import pytest
import yaml

from onestop.catalogue.definitions import ChannelKind, DurationUnit, Level, OnlineLevel
from onestop.catalogue.filespec import CatalogueError, load_folder, parse_file, validate_folder

PROCEDURES = Path(__file__).resolve().parents[2] / "procedures"
BIRTH = PROCEDURES / "khai-sinh.yaml"
LAND = PROCEDURES / "cap-gcn-lan-dau.yaml"


def _raw(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _write(folder: Path, name: str, content: dict[str, Any]) -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(content, allow_unicode=True, sort_keys=False), "utf-8")
    return path


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []


def test_shipped_catalogue_validates_with_no_errors() -> None:
    definitions, errors = validate_folder(PROCEDURES)

    assert [str(error) for error in errors] == []
    assert len(definitions) >= 30
    assert len(definitions) == len(list(PROCEDURES.glob("*.yaml")))
    assert len({d.code for d in definitions}) == len(definitions)


def test_shipped_catalogue_covers_both_levels_and_both_online_levels() -> None:
    definitions = load_folder(PROCEDURES)

    assert {d.level for d in definitions} == set(Level)
    assert {d.online_level for d in definitions} == set(OnlineLevel)
    for definition in definitions:
        if definition.online_level is OnlineLevel.FULL:
            assert definition.channel(ChannelKind.ONLINE) is not None, definition.code


def test_shipped_text_is_vietnamese_in_nfc() -> None:
    """Decomposed (NFD) text would not match the same words typed on another machine."""
    definitions = load_folder(PROCEDURES)
    texts = [s for d in definitions for s in _strings(d.to_dict())]

    assert all(unicodedata.normalize("NFC", s) == s for s in texts)
    # The catalogue is written with its diacritics, not in ASCII-folded Vietnamese.
    assert any("ă" in s or "ơ" in s or "đ" in s for s in texts)
    birth = next(d for d in definitions if d.code == "1.001193")
    assert birth.name == "Đăng ký khai sinh"


def test_clock_policy_is_exposed_as_plain_units_for_the_deadline_engine() -> None:
    definitions = {d.code: d for d in load_folder(PROCEDURES)}
    birth, land = definitions["1.001193"], definitions["1.013978"]

    assert birth.processing_time("in_person").as_tuple() == (1, "same_day")
    assert birth.clock.same_day_cutoff.strftime("%H:%M") == "15:00"
    assert birth.clock.max_supplement_requests == 1
    assert not birth.clock.payment_pauses_clock
    # Land law excludes the time spent paying from the processing time.
    assert land.clock.payment_pauses_clock
    units = {str(u) for u in DurationUnit}
    channels = {str(c) for c in ChannelKind}
    for definition in definitions.values():
        for option in definition.channels:
            assert str(option.channel) in channels
            assert option.processing_time.as_tuple()[1] in units


def test_step_budgets_fit_within_every_channel_time() -> None:
    for definition in load_folder(PROCEDURES):
        budgets = [step.budget for step in definition.processing_steps]
        for option in definition.channels:
            limit = option.processing_time
            if limit.unit is DurationUnit.CALENDAR_DAYS:
                assert sum(b.amount for b in budgets) <= limit.amount, definition.code
            else:
                total = sum(b.working_hours() or 0 for b in budgets)
                assert total <= (limit.working_hours() or 0), definition.code


def test_content_hash_ignores_layout_but_not_content(tmp_path: Path) -> None:
    original, _ = parse_file(BIRTH)
    assert original is not None
    raw = _raw(BIRTH)

    reordered = dict(reversed(list(raw.items())))
    relaid = _write(tmp_path, "a.yaml", reordered)
    relaid.write_text("# chú thích\n" + relaid.read_text("utf-8"), "utf-8")
    same, errors = parse_file(relaid)
    assert errors == []
    assert same is not None and same.content_hash == original.content_hash

    changed = copy.deepcopy(raw)
    changed["channels"]["in_person"]["fees"][2]["amount"] = 9000
    other, errors = parse_file(_write(tmp_path, "b.yaml", changed))
    assert errors == []
    assert other is not None and other.content_hash != original.content_hash


def test_every_error_in_every_file_is_reported_at_once(tmp_path: Path) -> None:
    birth = _raw(BIRTH)
    land = _raw(LAND)

    broken = copy.deepcopy(birth)
    broken["channels"]["online"]["processing_time"]["unit"] = "weeks"
    broken["colour"] = "xanh"
    broken["document_groups"][0]["documents"][1]["slot"] = "to_khai_khai_sinh"
    broken["offered_by"] = {"agencies": ["000.00.13.H56"]}
    _write(tmp_path, "khai-sinh.yaml", broken)

    over_budget = copy.deepcopy(land)
    over_budget["processing_steps"][1]["budget"] = {"amount": 30, "unit": "working_days"}
    over_budget["online_level"] = "full"
    del over_budget["channels"]["online"]
    _write(tmp_path, "dat-dai.yaml", over_budget)

    decomposed = copy.deepcopy(birth)
    decomposed["code"] = "1.000656"
    decomposed["source_url"] = birth["source_url"].replace("1.001193", "1.000656")
    decomposed["name"] = unicodedata.normalize("NFD", "Đăng ký khai tử")
    _write(tmp_path, "khai-tu.yaml", decomposed)

    duplicate = copy.deepcopy(birth)
    _write(tmp_path, "trung-ma.yaml", duplicate)

    bad_code = copy.deepcopy(birth)
    bad_code["code"] = "1.1193"
    del bad_code["clock"]
    _write(tmp_path, "ma-sai.yaml", bad_code)

    (tmp_path / "hong.yaml").write_text("code: '1.000001'\nname: [không đóng\n", "utf-8")
    (tmp_path / "lap-khoa.yaml").write_text("code: '1.000002'\ncode: '1.000003'\n", "utf-8")

    definitions, errors = validate_folder(tmp_path)
    found = {(e.file, e.path) for e in errors}
    messages = {(e.file, e.path): e.message for e in errors}

    assert definitions == []
    expected = {
        ("khai-sinh.yaml", "channels.online.processing_time.unit"),
        ("khai-sinh.yaml", "colour"),
        ("khai-sinh.yaml", "document_groups.0.documents.1.slot"),
        ("khai-sinh.yaml", "offered_by"),
        ("dat-dai.yaml", "processing_steps"),
        ("dat-dai.yaml", "online_level"),
        ("dat-dai.yaml", "full_online_eligible"),
        ("khai-tu.yaml", "name"),
        ("trung-ma.yaml", "code"),
        ("ma-sai.yaml", "code"),
        ("ma-sai.yaml", "clock"),
        ("hong.yaml", ""),
        ("lap-khoa.yaml", ""),
    }
    assert expected <= found
    assert "working_days" in messages[("khai-sinh.yaml", "channels.online.processing_time.unit")]
    assert "Unknown field" in messages[("khai-sinh.yaml", "colour")]
    assert "NFC" in messages[("khai-tu.yaml", "name")]
    assert "khai-sinh.yaml" in messages[("trung-ma.yaml", "code")]
    limit = land["channels"]["in_person"]["processing_time"]
    over = f"more than the statutory {limit['amount']} {limit['unit']}"
    assert over in messages[("dat-dai.yaml", "processing_steps")]
    assert messages[("hong.yaml", "")].startswith("YAML syntax error at line ")
    assert "duplicate key" in messages[("lap-khoa.yaml", "")]
    line = next(str(e) for e in errors if e.path == "channels.online.processing_time.unit")
    assert line.startswith("khai-sinh.yaml: channels.online.processing_time.unit: Must be one of")


def test_type_mistakes_yaml_makes_easily_are_refused(tmp_path: Path) -> None:
    """Unquoted, ``1.001193`` is a float and ``15:00`` a base-60 integer; 1 is not a yes."""
    text = BIRTH.read_text("utf-8")
    text = text.replace('code: "1.001193"', "code: 1.001193").replace('"15:00"', "15:00")
    path = tmp_path / "khai-sinh.yaml"
    path.write_text(text.replace("required: true", "required: 1", 1), "utf-8")

    definition, errors = parse_file(path)

    assert definition is None
    assert {e.path for e in errors} >= {
        "code",
        "clock.same_day_cutoff",
        "document_groups.0.documents.0.required",
    }


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (lambda r: r["channels"]["in_person"]["processing_time"].update(amount=0), "amount"),
        (lambda r: r["channels"]["postal"]["processing_time"].update(amount=2), "amount"),
        (lambda r: r["channels"]["in_person"]["fees"][0].update(amount=-1), "amount"),
        (lambda r: r["channels"]["in_person"]["fees"][1].pop("notes"), "notes"),
        (lambda r: r.update(source_url="https://example.com/?ma_thu_tuc=1.001193"), "source_url"),
        (lambda r: r.update(channels={}), "channels"),
        (lambda r: r["processing_steps"].reverse(), "role"),
        (lambda r: r["document_groups"][0]["documents"][0].update(copies=0, originals=0), "copies"),
        (lambda r: r["steps"].append("Bước\u0007ẩn"), "steps"),
    ],
)
def test_single_rule_violations_are_named(tmp_path: Path, mutate: Any, path: str) -> None:
    raw = _raw(BIRTH)
    mutate(raw)

    definition, errors = parse_file(_write(tmp_path, "khai-sinh.yaml", raw))

    assert definition is None
    assert any(e.path.split(".")[-1] == path or e.path.startswith(path) for e in errors), errors


def test_load_folder_raises_with_every_error(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("- một\n- hai\n", "utf-8")
    (tmp_path / "b.yml").write_text("code: '1.000001'\n", "utf-8")

    with pytest.raises(CatalogueError) as excinfo:
        load_folder(tmp_path)

    assert {e.file for e in excinfo.value.errors} == {"a.yaml", "b.yml"}


def test_missing_folder_is_an_error_not_an_empty_catalogue(tmp_path: Path) -> None:
    definitions, errors = validate_folder(tmp_path / "khong-co")

    assert definitions == []
    assert len(errors) == 1 and "not found" in errors[0].message
