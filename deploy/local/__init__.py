"""The local stack that ``make run`` and the tests start: Kafka, MongoDB, SMTP sink."""
