"""The fault campaign (``make chaos``): the whole of MLP Ops on a three-broker
Kafka cluster behind Toxiproxy, driven through its public APIs while brokers,
workers, a web process, the database, the SMTP sink and a partner's webhook
receiver fail on a schedule; then checked from the outside for lost,
duplicated and out-of-order effects (:mod:`chaos.campaign`)."""
