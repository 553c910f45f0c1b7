"""Pure domain logic: no Telegram, no database (lifecycle, references, clock, classifier)."""
