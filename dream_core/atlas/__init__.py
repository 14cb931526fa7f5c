"""The atlas: what every layer and filter of a model has learned (issue 16).

TEMPORARY (atlas-web branch): a minimal stand-in for H2's torch-free modules, coded
to /work/notes/ATLAS_SPEC.md, until they land on main.
"""
