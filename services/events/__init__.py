"""The events service: programme events, their lifecycle and the public catalogue."""
