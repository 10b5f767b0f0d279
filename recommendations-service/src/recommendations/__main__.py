"""`python -m recommendations` is the same as `recommendations-server`."""

from __future__ import annotations

import sys

from recommendations.cli import main

sys.exit(main())
