"""The documents service: programme papers with versions, review and publication."""
