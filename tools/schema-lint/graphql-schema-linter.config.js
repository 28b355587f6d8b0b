// graphql-schema-linter's rules for schema.graphql (`make lint` runs it; cosmiconfig finds this
// file through `--config-directory tools/schema-lint`). Every rule of graphql-schema-linter
// 3.0.1 is listed: on, or off with the reason.
module.exports = {
  rules: [
    // Everything says what it is (tests/test_schema_descriptions.py holds the same without node).
    'types-have-descriptions',
    'fields-have-descriptions',
    'arguments-have-descriptions',
    'enum-values-have-descriptions',
    'input-object-values-have-descriptions',
    'descriptions-are-capitalized',
    // Names: GraphQL's conventions, which the Norwegian names follow.
    'types-are-capitalized',
    'fields-are-camel-cased',
    'input-object-values-are-camel-cased',
    'enum-values-all-caps',
    'defined-types-are-used',
    'deprecations-have-a-reason',
    // The Relay cursor-connections specification, for every *Connection type and its PageInfo.
    'relay-connection-types-spec',
    'relay-connection-arguments-spec',
    'relay-page-info-spec',
    // Off:
    // - type-fields-sorted-alphabetically, input-object-fields-sorted-alphabetically,
    //   interface-fields-sorted-alphabetically, enum-values-sorted-alphabetically: fields keep
    //   the real register's order (personidentifikator, status, reservasjon, ... as in its
    //   lookup answer), and enums their natural order (AKTIV, SLETTET, IKKE_REGISTRERT;
    //   KAN_VARSLES before KAN_IKKE_VARSLES). An alphabetical schema would read worse, not
    //   better, and strawberry prints fields in declaration order.
  ],
};
