"""Syncing ``procedures/`` into the database: versions by content, retirement, and the CLI."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import yaml
from sqlalchemy import func, select

from onestop.catalogue.filespec import load_folder
from onestop.catalogue.models import Procedure, ProcedureVersion
from onestop.catalogue.services import (
    get_current_version,
    mark_version_used,
    sync_catalogue,
)
from onestop.core.audit import AuditEvent, verify
from tests.catalogue.conftest import PROCEDURES
from tests.factories import SEED_TIME

LATER = SEED_TIME + timedelta(days=30)


def _copy(tmp_path: Path) -> Path:
    folder = tmp_path / "procedures"
    shutil.copytree(PROCEDURES, folder)
    return folder


def _edit_birth_fee(folder: Path, amount: int) -> None:
    path = folder / "khai-sinh.yaml"
    raw = yaml.safe_load(path.read_text("utf-8"))
    raw["channels"]["in_person"]["fees"][2]["amount"] = amount
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), "utf-8")


def _versions(session, code: str) -> list[ProcedureVersion]:
    return list(
        session.scalars(
            select(ProcedureVersion)
            .join(Procedure)
            .where(Procedure.code == code)
            .order_by(ProcedureVersion.version)
        )
    )


def test_first_sync_creates_everything_and_a_second_does_nothing(session, synced, shipped):
    assert sorted(synced.created) == sorted(d.code for d in shipped)
    rows = session.scalar(select(func.count()).select_from(ProcedureVersion))

    again = sync_catalogue(session, shipped, actor=None, now=LATER)

    assert not again.changed
    assert sorted(again.unchanged) == sorted(d.code for d in shipped)
    assert session.scalar(select(func.count()).select_from(ProcedureVersion)) == rows


def test_an_unused_version_is_corrected_in_place(session, synced, tmp_path):
    folder = _copy(tmp_path)
    _edit_birth_fee(folder, 9000)

    summary = sync_catalogue(session, load_folder(folder), actor=None, now=LATER)

    assert summary.replaced == ["1.001193"]
    [only] = _versions(session, "1.001193")
    assert only.version == 1
    assert only.as_definition().channels[0].fees[2].amount == 9000


def test_a_version_used_by_a_dossier_is_never_edited(session, synced, tmp_path):
    used = get_current_version(session, "1.001193")
    mark_version_used(session, used)
    before = (used.content_hash, dict(used.definition))
    folder = _copy(tmp_path)
    _edit_birth_fee(folder, 9000)

    summary = sync_catalogue(session, load_folder(folder), actor=None, now=LATER)

    assert summary.new_version == ["1.001193"]
    first, second = _versions(session, "1.001193")
    assert (first.content_hash, first.definition) == before
    assert second.version == 2 and second.content_hash != first.content_hash
    assert get_current_version(session, "1.001193").id == second.id


def test_a_removed_file_retires_its_procedure_and_a_restored_one_comes_back(
    session, client, synced, tmp_path
):
    folder = _copy(tmp_path)
    (folder / "khai-tu.yaml").unlink()

    summary = sync_catalogue(session, load_folder(folder), actor=None, now=LATER)
    session.commit()

    assert summary.retired == ["1.000656"]
    assert client.get("/api/v1/procedures/1.000656").status_code == 404
    codes = [i["code"] for i in client.get("/api/v1/procedures?page_size=100").json["items"]]
    assert "1.000656" not in codes
    assert session.scalar(select(Procedure).where(Procedure.code == "1.000656")) is not None

    shutil.copy(PROCEDURES / "khai-tu.yaml", folder / "khai-tu.yaml")
    back = sync_catalogue(session, load_folder(folder), actor=None, now=LATER)
    session.commit()

    assert back.reinstated == ["1.000656"]
    assert client.get("/api/v1/procedures/1.000656").status_code == 200


def test_every_catalogue_change_is_audited(session, synced, tmp_path):
    folder = _copy(tmp_path)
    (folder / "khai-tu.yaml").unlink()
    sync_catalogue(session, load_folder(folder), actor=None, now=LATER)

    actions = session.scalars(
        select(AuditEvent.action).where(AuditEvent.stream.like("procedure:%"))
    ).all()

    assert actions.count("procedure.created") == len(synced.created)
    assert actions.count("procedure.retired") == 1
    assert list(verify(session)) == []


def test_cli_validate_lists_every_error_and_fails(app, procedures_cli, tmp_path):
    folder = _copy(tmp_path)
    raw = yaml.safe_load((folder / "khai-sinh.yaml").read_text("utf-8"))
    raw["online_level"] = "toan_trinh"
    (folder / "khai-sinh.yaml").write_text(yaml.safe_dump(raw, allow_unicode=True), "utf-8")
    (folder / "hong.yaml").write_text("code: [\n", "utf-8")
    runner = app.test_cli_runner()

    bad = runner.invoke(procedures_cli, ["procedures", "validate", str(folder)])
    good = runner.invoke(procedures_cli, ["procedures", "validate", str(PROCEDURES)])

    assert bad.exit_code == 1
    assert "khai-sinh.yaml: online_level: Must be one of" in bad.output
    assert "hong.yaml: YAML syntax error" in bad.output
    assert good.exit_code == 0
    assert f"{len(list(PROCEDURES.glob('*.yaml')))} thủ tục hợp lệ" in good.output


def test_cli_sync_writes_nothing_when_a_file_is_invalid(app, session, procedures_cli, tmp_path):
    folder = _copy(tmp_path)
    (folder / "hong.yaml").write_text("code: [\n", "utf-8")
    runner = app.test_cli_runner()

    refused = runner.invoke(procedures_cli, ["procedures", "sync", str(folder)])

    assert refused.exit_code == 1
    assert session.scalar(select(func.count()).select_from(Procedure)) == 0


def test_cli_sync_prints_a_summary(app, session, procedures_cli):
    runner = app.test_cli_runner()

    first = runner.invoke(procedures_cli, ["procedures", "sync", str(PROCEDURES)])
    second = runner.invoke(procedures_cli, ["procedures", "sync", str(PROCEDURES)])

    total = len(list(PROCEDURES.glob("*.yaml")))
    assert first.exit_code == 0, first.output
    assert f"Thêm mới: {total}" in first.output
    assert f"Không đổi: {total}" in second.output
    assert session.scalar(select(func.count()).select_from(Procedure)) == total
