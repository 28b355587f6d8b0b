"""The print provider: the organisation that prints and posts the letters of those without a
digital mailbox, and its certificate, which senders encrypt such letters with. The register
keeps one (the operator sets it with `krr print-sertifikat`) and hands it out as the real
register does: `GET /rest/v2/printSertifikat`, read by eFormidling without a token, and
GraphQL's `printSertifikat`."""
