"""The access managers' page (/admin): an organisation's API delegations given and received,
granting and revoking them, and the vendors' use, for a person logged in with ID-porten who
manages the organisation (seed 004's "Tilgang til programmeringsgrensesnitt - API")."""
