"""Block Kit builders: data in, blocks out. No session, no client, no clock.

Every string that came from a person or a CRM goes through ``mrkdwn.escape`` (or ``plain`` for
plain_text fields), and every field is kept within Block Kit's limits by cutting with an
ellipsis — a long name or forty signals make a shorter message, never a rejected one.

One module per concern: ``base`` (limits, menu choices, small constructors, ``reply``),
``cards`` (the alert card and its thread follow-ups), ``steps`` (plan steps and plans),
``digests`` (daily digest, weekly summary, stats, snoozed), ``replies`` (other ``/expansion``
answers), ``modals`` and ``home`` (App Home). Import the builder from its module.
"""
