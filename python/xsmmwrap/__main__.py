"""``python -m xsmmwrap``: the command line (see :mod:`xsmmwrap.cli`)."""

import sys

from .cli import main

sys.exit(main())
