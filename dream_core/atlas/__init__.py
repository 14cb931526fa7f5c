"""The atlas: feature visualisations of every layer and filter (issue 16).

Torch-free (the bot and the web gallery import them): :mod:`.request` (what a
request may ask for, checked once), :mod:`.cache` (the content-addressed render
cache, :mod:`.weights` for the weights hash in its keys), :mod:`.sheet` (labelled
grids and filter cards as PNGs that record what they show), :mod:`.lookup`
(sheets assembled from the cache), :mod:`.version`. Torch (workers and the CLI):
the renderer (:mod:`.render`) and :mod:`.service` (render the cache's misses).
:mod:`.cli` is ``dreambot atlas``.

This package's ``__init__`` imports nothing, so importing a torch-free module
never pulls torch in.
"""
