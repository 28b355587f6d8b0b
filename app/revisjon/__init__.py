"""The audit log: who looked whom up, on whose behalf, and what was disclosed."""
