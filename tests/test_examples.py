"""The examples in examples/ work against the service as written."""

from __future__ import annotations

import importlib.util
import io
import subprocess
import sys
from pathlib import Path

import httpx
from graphql import build_schema, parse, validate

from app.edge.app import create_app
from tests.conftest import CONSUMER, FIXED_NOW
from tests.factories import new_id, person
from tests.servers import krr_serving
from tests.test_cli import krr

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


def test_the_typed_client_looks_up_1000_and_keeps_a_local_copy(cli_env, tmp_path):
    """examples/klient against a live `krr serve`: the client ariadne-codegen generated from
    schema.graphql, a 1000-id lookup and the change feed walked to the end."""
    krr(cli_env, "migrate")
    krr(cli_env, "seed", "--persons", "30")
    token = krr(cli_env, "token", "--consumer", CONSUMER, "--scope",
                "krr:global/kontaktinformasjon.read krr:global/hentendring.read").stdout.strip()
    ids = ["17912099997", "24907999374", *(new_id(n) for n in range(1, 999))]
    (tmp_path / "ids.txt").write_text("\n".join(ids) + "\n")
    with krr_serving(cli_env) as base:
        siste = httpx.post(f"{base}/graphql", headers={"Authorization": f"Bearer {token}"},
                           json={"query": "{ endringer(fraEndringsId: 0, antall: 1) "
                                          "{ sisteEndringsId } }"},
                           ).json()["data"]["endringer"]["sisteEndringsId"]
        done = subprocess.run(
            [sys.executable, str(EXAMPLES / "klient" / "bruk.py"), str(tmp_path / "ids.txt")],
            env=cli_env | {"KRR_URL": base, "KRR_TOKEN": token}, capture_output=True,
            text=True, timeout=120, check=False,
        )
    assert done.returncode == 0, done.stderr
    first, second = done.stdout.splitlines()
    assert first.startswith("1000 oppslag: KAN_IKKE_VARSLES ") and "KAN_VARSLES 2" in first
    assert second.endswith(f"à jour til endring {siste}") and siste > 30


def test_the_typed_client_s_operations_hold_against_the_schema():
    """The committed client was generated from these operations; they must stay valid against
    schema.graphql (a changed schema means `make klient`)."""
    schema = build_schema((EXAMPLES.parent / "schema.graphql").read_text())
    operations = parse((EXAMPLES / "klient" / "queries.graphql").read_text())
    assert validate(schema, operations) == []
    generated = (EXAMPLES / "klient" / "krr_klient" / "client.py").read_text()
    for operation in ("query Varsling(", "query Endringer("):
        assert operation in generated, "run `make klient`"
