"""`python -m imagintalk_plugin` runs the `imagintalk` command."""

import sys

from imagintalk_plugin.cli import main

sys.exit(main())
