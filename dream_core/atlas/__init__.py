"""The atlas: feature visualisations of every layer and filter of every catalogued model.

A filter's picture is rendered from nothing: an image parameterised in a decorrelated,
natural-spectrum Fourier basis (:mod:`.param`), made robust to small jitter, scale and
rotation at every step (:mod:`.transforms`), ascending one objective per image in one batch
(:mod:`.objectives`, :mod:`.render`). The torch-free parts (request validation, the cache,
contact sheets, the renderer version) are importable without torch; importing this package
itself imports nothing heavy.
"""
