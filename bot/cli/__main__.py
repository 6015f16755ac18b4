"""``python -m bot.cli`` is the ``jifen`` console script."""

import sys

from bot.cli.main import main

sys.exit(main())
