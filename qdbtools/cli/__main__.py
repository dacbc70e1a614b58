"""``python -m qdbtools.cli``: the same as the ``qdbtools`` console script."""

import sys

from qdbtools.cli import main

sys.exit(main())
