"""Keeping the register current for others: change feed, language from public bodies, new ids."""
