"""The benchmarks, one module a service (``make bench`` runs them all):
``python -m bench.events``, ``bench.invitations``, ``bench.documents`` and
``bench.notifications``; ``stack`` starts what they run on, ``load`` and
``baseline_app`` serve the events benchmark."""
