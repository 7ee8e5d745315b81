"""Polling: read sources, write rows, re-score what changed (the machinery, no Slack)."""
