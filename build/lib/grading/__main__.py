"""python -m grading: see grading/cli.py."""

import sys

from grading.cli import main

sys.exit(main())
