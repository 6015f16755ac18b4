"""Directory sync from WeCom / DingTalk contacts (SPEC section 12): the platform side.

``sources`` opens a platform's contacts client from the settings, ``runner`` reads a roster and
hands it to ``core.directory.sync``, ``events`` applies real-time contact events exactly once.
"""
