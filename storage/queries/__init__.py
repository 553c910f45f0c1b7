"""Hand-tuned statements for the hot paths, one module per feature, each built once.

Services import a named statement from here instead of building it per call: building an
INSERT … ON CONFLICT or a SELECT with scalar subqueries costs more CPU than running it.
"""
