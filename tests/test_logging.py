"""Personal ids and addresses in a request never reach a log line through GraphQL errors."""

from __future__ import annotations

import logging

from tests.factories import new_id, person
from tests.test_lookup import lookup


async def test_graphql_errors_are_logged_without_personal_data(client, mint, caplog):
    pid = new_id(900)
    await person(pid, epost="hemmelig@example.no")
    caplog.set_level(logging.INFO)  # DEBUG is tortoise's SQL trace: never on in production
    bad = "17912099998"  # fails mod-11: the error message names it
    await lookup(client, mint("krr:global/kontaktinformasjon.read"), [pid, bad])
    await lookup(client, mint("openid"), [pid], "kontaktinformasjon { epostadresse }")
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "code=BAD_USER_INPUT" in text
    for secret in (pid, bad, "hemmelig@example.no"):
        assert secret not in text
