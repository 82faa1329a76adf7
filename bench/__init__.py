"""The events-service benchmark (``make bench``): write throughput against a
plain Flask+pymongo baseline, and API-to-partner latency over Kafka."""
