"""Composition root: configuration, application assembly and the command line."""
