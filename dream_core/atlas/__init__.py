"""The atlas: feature visualisations of every layer and filter of every catalogued model.

A filter's picture is rendered from nothing: an image parameterised in a decorrelated,
natural-spectrum Fourier basis (:mod:`.param`), made robust to small jitter, scale and
rotation at every step (:mod:`.transforms`), ascending one objective per image in one batch
(:mod:`.objectives`, :mod:`.render`); :mod:`.service` renders only what the cache lacks.

Torch-free (the bot and the web gallery import them): :mod:`.request` (what a request may
ask for, checked once), :mod:`.cache` (the content-addressed render cache; :mod:`.weights`
for the weights hash in its keys), :mod:`.sheet` (labelled grids and filter cards as PNGs
that record what they show), :mod:`.lookup` (sheets assembled from the cache),
:mod:`.version`. :mod:`.cli` is ``dreambot atlas``. Importing this package itself imports
nothing heavy.
"""
