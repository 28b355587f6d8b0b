"""The public `printSertifikat` query: the print provider and its certificate, as REST's
`GET /rest/v2/printSertifikat` hands them out (app.printsertifikat.rest)."""

from __future__ import annotations

import strawberry

from app.api.context import Info
from app.api.tilgang import felt
from app.printsertifikat import store
from app.printsertifikat.regler import KOMMANDO
from authz.tillatelse import OFFENTLIG


@strawberry.type(
    name="PrintSertifikat",
    description="The print provider: the organisation that prints and posts letters to those "
    "without a digital mailbox (or reserved against digital post), and the certificate senders "
    "encrypt such letters to.",
)
class PrintSertifikat:
    postkasseleverandoer_adresse: str = strawberry.field(
        description="The print provider's organisation number (9 digits), its address as a "
        "receiver of letters."
    )
    x509_sertifikat: str = strawberry.field(
        description="The print provider's X.509 encryption certificate: bare base64 of its DER "
        "encoding, as Person.sertifikat (no PEM armour, no line breaks)."
    )


@strawberry.type
class PrintSertifikatQuery:
    @felt(
        OFFENTLIG,
        description="The print provider and its certificate; public (no token needed), as "
        f"GET /rest/v2/printSertifikat. Null until the operator sets it (`{KOMMANDO}`).",
    )
    async def print_sertifikat(self, info: Info) -> PrintSertifikat | None:
        gjeldende = await store.gjeldende()
        if gjeldende is None:
            return None
        return PrintSertifikat(
            postkasseleverandoer_adresse=gjeldende.postkasseleverandoer_adresse,
            x509_sertifikat=gjeldende.x509_sertifikat,
        )
