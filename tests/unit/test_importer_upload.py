"""`seqflow import` uploads validated contacts in batches to a local HTTP server that records them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from seqflow.importer import main

Recorded = list[tuple[str, str, dict[str, Any]]]


@pytest.fixture
async def api() -> AsyncIterator[tuple[str, Recorded]]:
    recorded: Recorded = []

    async def members(request: web.Request) -> web.Response:
        body = await request.json()
        recorded.append((request.path, request.headers.get("Authorization", ""), body))
        return web.json_response({"added": len(body["contacts"])})

    app = web.Application()
    app.router.add_post("/rollups/{rollup}/members", members)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}", recorded
    finally:
        await runner.cleanup()


async def test_a_csv_of_1200_contacts_is_posted_in_batches_of_500_with_the_token(
    api: tuple[str, Recorded], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url, recorded = api
    rows = "".join(f"c{n},First{n},c{n}@example.org,{n % 3}\n" for n in range(1200))
    path = tmp_path / "contacts.csv"
    path.write_text("id,first_name,email,tier\n" + rows, encoding="utf-8")
    # main() runs its own event loop, so it runs in a thread while this loop serves the API.
    code = await asyncio.to_thread(main, ["--api", url, "--token", "tok", "--rollup", "r1", str(path)])
    assert code == 0
    assert [len(body["contacts"]) for _, _, body in recorded] == [500, 500, 200]
    assert {(p, auth) for p, auth, _ in recorded} == {("/rollups/r1/members", "Bearer tok")}
    first = recorded[0][2]["contacts"][0]
    assert (first["id"], first["email"], first["custom"]) == ("c0", "c0@example.org", {"tier": "0"})
    assert "[##########] 1200/1200" in capsys.readouterr().err


async def test_a_rejected_batch_exits_1(api: tuple[str, Recorded], tmp_path: Path) -> None:
    url, _ = api
    path = tmp_path / "contacts.json"
    path.write_text('[{"id": "c1"}]', encoding="utf-8")
    code = await asyncio.to_thread(main, ["--api", url + "/nope", "--token", "t", "--rollup", "r1", str(path)])
    assert code == 1
