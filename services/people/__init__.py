"""People across channels: linking a second channel's identity to the same person."""
