"""The examples in examples/ work against the service as written."""

from __future__ import annotations

import importlib.util
import io
from pathlib import Path

import httpx

from app.edge.app import create_app
from tests.conftest import FIXED_NOW
from tests.factories import new_id, person

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
_spec = importlib.util.spec_from_file_location("varsle", EXAMPLES / "varsle.py")
assert _spec is not None and _spec.loader is not None
varsle = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(varsle)


async def test_the_notification_list_batches_and_writes_csv(db, mint, monkeypatch):
    ids = [new_id(n) for n in range(1, 4)]
    await person(ids[0])
    await person(ids[1], reservasjon=True)
    app = create_app(db, clock=lambda: FIXED_NOW, manage_db=False)
    real_client = httpx.AsyncClient

    def in_process(**kwargs: object) -> httpx.AsyncClient:
        return real_client(transport=httpx.ASGITransport(app=app), **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(varsle.httpx, "AsyncClient", in_process)
    monkeypatch.setattr(varsle, "BATCH", 2)  # two requests for three ids
    out = io.StringIO()
    token = mint("krr:global/kontaktinformasjon.read")
    count = await varsle.run("http://krr.test", token, [*ids, ""], out)
    lines = out.getvalue().splitlines()
    assert count == 3 and lines[0].startswith("personidentifikator,varslingsstatus")
    by_id = {line.split(",")[0]: line.split(",") for line in lines[1:]}
    assert by_id[ids[0]][1:] == ["KAN_VARSLES", "kari@example.no", "+4791234567"]
    assert by_id[ids[1]][1] == "KAN_IKKE_VARSLES"  # reserved: not to be notified
    assert by_id[ids[2]][1] == "KAN_IKKE_VARSLES"  # not in the register


async def test_the_notification_list_stops_on_a_refusal(db, mint, monkeypatch):
    app = create_app(db, clock=lambda: FIXED_NOW, manage_db=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://krr.test") as client:
        token = mint("krr:global/digitalpost.read")  # no contact scope
        try:
            await varsle.look_up(client, token, [new_id(1)])
        except varsle.Refused as exc:
            assert str(exc).startswith("FORBIDDEN: "), exc
        else:
            raise AssertionError("a token without the contact scope was served")
