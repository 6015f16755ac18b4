"""Monthly summary, leaderboards and their CSV form."""
