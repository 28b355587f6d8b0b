"""Access managers (Altinn's tilgangsstyrer): who manages which organisation's delegations."""
