"""``python -m dream_core``: the dream core's command line (one-shot: it leaves without the
interpreter's teardown, :mod:`dream_core.quick_exit`)."""

from dream_core.cli import main
from dream_core.quick_exit import leave

if __name__ == "__main__":
    leave(main())
