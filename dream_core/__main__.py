"""``python -m dream_core``: the dream core's command line."""

import sys

from dream_core.cli import main

if __name__ == "__main__":
    sys.exit(main())
