"""DreamBot: the Discord bot, its store and its web gallery, on top of :mod:`dream_core`."""
