"""The resident's own entry (ID-porten): `meg` and the mutations that keep it."""
