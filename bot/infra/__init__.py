"""Process plumbing: settings, logging, metrics, health, leases, clocks."""
