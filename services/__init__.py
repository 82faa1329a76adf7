"""The MLP Ops services; each folder is deployable on its own."""
