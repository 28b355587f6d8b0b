"""Organisation names from Enhetsregisteret (Brønnøysundregistrene's register of units):
`krr organisasjoner importer FILE` loads its open bulk download into the organisation table."""
