"""The local playground: a web chat at ``/playground`` (``jifen chat --as <id>`` in
``bot/cli/chat.py`` is its terminal twin).

Both go through the real dispatcher and render the same cards (with working buttons on the web).
Wiring (composition root)::

    from bot.platforms.playground import setup_routes
    setup_routes(app, feed=dispatcher.feed, inbox=inbox, db=db)
"""

from __future__ import annotations

from bot.platforms.playground.web import setup_routes

__all__ = ["setup_routes"]
