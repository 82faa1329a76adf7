"""What the tests, the benchmarks and the demo share, so that none of them imports
another: tokens (:mod:`devkit.auth`), a service's ``MLP_`` environment on given
servers (:mod:`devkit.env`), Kafka probes and a producer that plays the other
services (:mod:`devkit.kafka`), valid sample bodies and payloads
(:mod:`devkit.samples`), a local webhook receiver (:mod:`devkit.webhooks`) and
waiting for a condition (:mod:`devkit.waiting`).

Development only: the service image holds ``shared/`` and ``services/<name>/``,
and nothing there imports this package."""
