"""The bot's cogs, one extension each (loaded by :class:`bot.app.DreamBot`)."""
