"""`GET /rest/v2/printSertifikat`: the print provider as eFormidling reads it.

eFormidling's service registry and integration point (felleslosninger/efm-service-registry
PrintService, efm-integrasjonspunkt PrintService) fetch it with a plain GET, `Accept:
application/json` and no token, into `{postkasseleverandoerAdresse, x509Sertifikat}`
(PrintResponse, KrrPrintResponse), and use the pair as the receiver of a letter to be printed:
the organisation number as the provider's address, the certificate (which they wrap in PEM
armour themselves) to encrypt to. So the route is public, as the provider's certificate is: it
holds no one's data. It is still behind the edge (rate limit on the client's address, deadline,
log), and may be signed like the lookups (`Accept: application/jose`).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from app.foresporsel import Foresporsel
from app.printsertifikat import store
from app.printsertifikat.regler import IngenPrintsertifikat
from app.rest import Rute, json_svar
from authz.tillatelse import OFFENTLIG

PATH = "/rest/v2/printSertifikat"


async def print_sertifikat(_: Request, __: Foresporsel) -> Response:
    """The pair as the real register names it; 404 before the operator has set one."""
    gjeldende = await store.gjeldende()
    if gjeldende is None:
        raise IngenPrintsertifikat()
    return json_svar({"postkasseleverandoerAdresse": gjeldende.postkasseleverandoer_adresse,
                      "x509Sertifikat": gjeldende.x509_sertifikat})


RUTE = Rute(PATH, print_sertifikat, OFFENTLIG, methods=("GET",), signable=True)
