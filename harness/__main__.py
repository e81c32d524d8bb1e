"""``python -m harness`` is the ``convbench`` command."""

import sys

from .cli import main

sys.exit(main())
