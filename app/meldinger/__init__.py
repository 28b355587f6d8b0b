"""Messages to residents (one-time codes, expiry reminders): an outbox and its senders."""
