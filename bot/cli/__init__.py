"""The ``jifen`` command line (SPEC section 6): parser, commands, the grant/report/chat commands.

``main`` parses, runs one command and turns every mistake into one sentence on stderr (exit 1).
"""

from bot.cli.main import main

__all__ = ["main"]
