"""Parsing and validating contact files for `seqflow import`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from seqflow.importer import BadImport, batches, load_contacts, main, progress_bar
from seqflow.messaging.base import ContactData


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_columns_become_fields_and_other_columns_become_custom(tmp_path: Path) -> None:
    path = write(tmp_path, "c.csv", "id,first_name,email,phone,shoe_size\nc1,Ada,ada@example.org,,42\n")
    [contact] = load_contacts(path)
    assert contact == ContactData(id="c1", first_name="Ada", email="ada@example.org", custom={"shoe_size": "42"})


def test_a_json_list_of_contacts_is_read(tmp_path: Path) -> None:
    rows = [{"id": "c1", "first_name": "Ada"}, {"id": "c2", "custom": {"tier": 1}}]
    contacts = load_contacts(write(tmp_path, "c.json", json.dumps(rows)))
    assert [c.id for c in contacts] == ["c1", "c2"] and contacts[1].custom == {"tier": 1}


def test_a_csv_row_without_an_id_names_the_row_and_field(tmp_path: Path) -> None:
    path = write(tmp_path, "c.csv", "id,first_name\nc1,Ada\n,Bob\n")
    with pytest.raises(BadImport, match=r"row 2: field 'id'"):
        load_contacts(path)


def test_a_json_row_with_an_unknown_field_names_the_row_and_field(tmp_path: Path) -> None:
    path = write(tmp_path, "c.json", json.dumps([{"id": "c1"}, {"id": "c2", "nickname": "x"}]))
    with pytest.raises(BadImport, match=r"row 2: field 'nickname'"):
        load_contacts(path)


def test_a_csv_without_an_id_column_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(BadImport, match="'id' column"):
        load_contacts(write(tmp_path, "c.csv", "first_name\nAda\n"))


def test_a_csv_row_with_more_cells_than_columns_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(BadImport, match="row 1: more cells"):
        load_contacts(write(tmp_path, "c.csv", "id,first_name\nc1,Ada,extra\n"))


def test_a_bad_file_exits_2_with_a_message_and_sends_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "c.csv", "id,email\nc1,a@x.org\n,b@x.org\n")
    # The API URL is unreachable: reaching the upload at all would fail differently (exit 1).
    code = main(["--api", "http://127.0.0.1:9", "--token", "t", "--rollup", "r1", str(path)])
    assert code == 2 and "row 2: field 'id'" in capsys.readouterr().err


def test_batches_split_the_contacts_in_order() -> None:
    contacts = [ContactData(id=str(n)) for n in range(1200)]
    assert [len(b) for b in batches(contacts, 500)] == [500, 500, 200]


def test_the_progress_bar_shows_the_share_done() -> None:
    assert progress_bar(1500, 3000) == "[#####     ] 1500/3000"
