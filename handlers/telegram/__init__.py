"""The Telegram adapter: updates in (inbound), replies and presses (replies), the outbox's
sender (outbound), the HTML renderer (render) and the handler registration (app)."""
