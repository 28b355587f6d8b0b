"""GraphiQL (dev/test): the page GET /graphql answers a browser with, and its assets, all served
by the service itself (statisk/vendor/README.md), so it works offline and where CDNs are blocked."""
