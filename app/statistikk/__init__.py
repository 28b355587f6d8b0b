"""The register's public key figures: `statistikk` in GraphQL and the page at GET /statistikk."""
