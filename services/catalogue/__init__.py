"""The catalogue service: the practices database, follow-up, search and the public website."""
