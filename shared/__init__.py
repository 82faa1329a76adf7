"""The one library every MLP Ops service stands on: configuration, the web
app factory pieces, authentication, the CloudEvents envelope, the
transactional outbox and its relay, and the idempotent consumer runner."""
