"""The Slack app: Bolt listeners, Block Kit, the outbox sender, routing and jobs."""
