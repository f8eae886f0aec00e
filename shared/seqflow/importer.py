"""`seqflow import`: validate contacts from a CSV or JSON file, then add them to a rollup in batches."""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

import aiohttp
from pydantic import ValidationError

from seqflow.messaging.base import ContactData

BATCH_SIZE = 500
KNOWN_COLUMNS = ("id", "first_name", "last_name", "email", "phone", "title", "company")
BAR_WIDTH = 10


class BadImport(Exception):
    """A file that cannot be imported; the message names the row and field."""


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="seqflow import", description=__doc__)
    parser.add_argument("--api", required=True, help="base URL of the seqflow API")
    parser.add_argument("--token", required=True, help="API token (sent as a Bearer token)")
    parser.add_argument("--rollup", required=True, help="id of the rollup list to add the contacts to")
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE, help=argparse.SUPPRESS)
    parser.add_argument("file", type=Path, help="a CSV file with a header row, or a JSON list of contacts")
    return parser.parse_args(argv)


def load_contacts(path: Path) -> list[ContactData]:
    """Every contact of the file, validated; BadImport on the first bad row."""
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() == ".json" or text.lstrip().startswith("["):
        return contacts_from_json(text)
    return contacts_from_csv(text)


def contacts_from_json(text: str) -> list[ContactData]:
    try:
        rows = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadImport(f"not valid JSON: {exc}") from exc
    if not isinstance(rows, list):
        raise BadImport("a JSON import must be a list of contact objects")
    return [validate(n, row) for n, row in enumerate(rows, start=1)]


def contacts_from_csv(text: str) -> list[ContactData]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if reader.fieldnames is None or "id" not in reader.fieldnames:
        raise BadImport("the CSV header row must have an 'id' column")
    contacts = []
    for number, row in enumerate(reader, start=1):
        if None in row:
            raise BadImport(f"row {number}: more cells than header columns")
        contacts.append(validate(number, csv_row_to_contact(row)))
    return contacts


def csv_row_to_contact(row: dict[str, Any]) -> dict[str, Any]:
    """Known columns map to fields (empty → missing); any other column goes to `custom`."""
    known = {k: v for k, v in row.items() if k in KNOWN_COLUMNS and v not in ("", None)}
    custom = {k: v for k, v in row.items() if k not in KNOWN_COLUMNS and k and v not in ("", None)}
    return {**known, "custom": custom}


def validate(number: int, row: Any) -> ContactData:
    if not isinstance(row, dict):
        raise BadImport(f"row {number}: expected an object, got {type(row).__name__}")
    try:
        return ContactData.model_validate(row)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "<row>"
        raise BadImport(f"row {number}: field {field!r}: {first['msg']}") from exc


def batches(contacts: list[ContactData], size: int) -> Iterator[list[ContactData]]:
    for start in range(0, len(contacts), size):
        yield contacts[start : start + size]


def progress_bar(done: int, total: int, width: int = BAR_WIDTH) -> str:
    filled = width if total == 0 else done * width // total
    return f"[{'#' * filled}{' ' * (width - filled)}] {done}/{total}"


async def upload(api: str, token: str, rollup: str, contacts: list[ContactData], size: int, out: TextIO) -> None:
    """POST the contacts in batches; aiohttp.ClientResponseError on a non-2xx answer."""
    url = f"{api.rstrip('/')}/rollups/{rollup}/members"
    headers = {"Authorization": f"Bearer {token}"}
    done = 0
    async with aiohttp.ClientSession(headers=headers, timeout=aiohttp.ClientTimeout(total=60)) as session:
        for batch in batches(contacts, size):
            body = {"contacts": [c.model_dump(mode="json") for c in batch]}
            async with session.post(url, json=body) as resp:
                resp.raise_for_status()
            done += len(batch)
            print(f"\r{progress_bar(done, len(contacts))}", end="", file=out, flush=True)
    print(file=out)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    try:
        contacts = load_contacts(args.file)
    except (BadImport, OSError) as exc:
        print(f"seqflow import: {args.file}: {exc}", file=sys.stderr)
        return 2
    try:
        asyncio.run(upload(args.api, args.token, args.rollup, contacts, args.batch_size, sys.stderr))
    except aiohttp.ClientError as exc:
        print(f"\nseqflow import: upload failed: {exc}", file=sys.stderr)
        return 1
    print(f"imported {len(contacts)} contacts into rollup {args.rollup}", file=sys.stderr)
    return 0
