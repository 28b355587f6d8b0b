"""Test persons for the test environments (never in prod): creating them by profile, searching
the register, and exporting a search as CSV."""
