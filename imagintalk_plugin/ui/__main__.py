"""`python -m imagintalk_plugin.ui`: the panel process (what `imagintalk panel` starts)."""

import sys

from imagintalk_plugin.ui.app import main

sys.exit(main())
