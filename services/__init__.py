"""Use cases: what residents, staff and the clock can do, on any channel. Calls storage and
domain, never a chat platform: one package per feature, one module per use case, and the
kernel they share."""
