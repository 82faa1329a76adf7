"""Deployment: the local process set (``deploy/local``) and production manifests."""
