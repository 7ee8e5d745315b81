"""The domain: what alerts and plans may do, written against the repositories with no Slack in
sight. Functions take a session (the caller owns the transaction), change rows, write the audit
log and the outbox, and return the rows; a request that cannot be done raises a
``DomainError`` that says what went wrong in data, and ``bot/slack`` words it for people."""
