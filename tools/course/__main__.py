"""``python -m tools.course``: see ``tools.course.cli``."""

import sys

from .cli import main

sys.exit(main())
