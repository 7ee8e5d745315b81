"""What people read outside Slack: the terminal, the playbook, calendar files."""
