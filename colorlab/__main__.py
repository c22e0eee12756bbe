"""``python -m colorlab``: see :mod:`colorlab.cli`."""
import sys

from colorlab.cli import main

if __name__ == "__main__":
    sys.exit(main())
