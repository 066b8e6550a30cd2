"""The client written once: utils/gen_sync.py turns this package into ``_sync``."""
