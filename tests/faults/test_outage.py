"""The database unreachable for 30 seconds, between a running bot and PostgreSQL.

A TCP proxy sits between ``expansion-radar run`` and PostgreSQL. While it is cut: signed
slash commands are still acknowledged inside Slack's 3 seconds and then answered, saying the
data is temporarily unavailable (not a 500, not silence); ``/healthz`` answers 503 saying
why. Work queued meanwhile (written straight to the database, as another replica or a poll on
the other side of the cut would) waits. When the proxy comes back the same process — never
restarted — answers again and delivers the queued work, once each; the alerts from before stay
single.
"""

from __future__ import annotations

import time

from sqlalchemy.engine import make_url

import db.outbox
from db.engine import SessionFactory, transaction
from db.outbox_payloads import AdminNote
from tests.fakes import FakeSlack
from tests.faults.conftest import (
    ADMIN_CHANNEL,
    Bots,
    TcpProxy,
    demo_config,
    posted_once,
    wait_delivered,
)
from tests.waiting import wait_until

CONFIG = demo_config(interval_minutes=60)
OUTAGE_SECONDS = 30.0
QUEUED = 3


def admin_texts(slack: FakeSlack) -> list[str]:
    return [str(p.get("text", "")) for p in slack.posts() if p.get("channel") == ADMIN_CHANNEL]


def test_database_away_for_30_seconds(
    pg_url: str, pg_factory: SessionFactory, slack: FakeSlack, bots: Bots
) -> None:
    target = make_url(pg_url)
    proxy = TcpProxy((target.host or "127.0.0.1", target.port or 5432))
    try:
        via_proxy = str(target.set(host="127.0.0.1", port=proxy.port))
        bot = bots.start(bots.env(via_proxy, CONFIG))
        bot.wait_healthy()
        wait_delivered(
            slack, pg_factory, timeout=120, what="the first alerts to be delivered", settle=0
        )
        ok = bot.slash(slack, "brightops")
        assert ok.status == 200 and "BrightOps" in ok.text
        pid = bot.proc.pid if bot.proc else None

        proxy.cut()
        cut_at = time.monotonic()
        down = wait_until(
            lambda: (r := bot.health()) is not None and r.status_code == 503 and r,
            timeout=15,
            what="/healthz to say 503",
        )
        assert down.json()["database"] == "unreachable"
        assert "unreachable" in down.json()["error"]

        with transaction(pg_factory) as session:  # work queued on the far side of the cut
            for i in range(QUEUED):
                text = f"queued during the outage #{i}"
                db.outbox.enqueue(session, AdminNote(text), alert=None)

        answers = 0
        while time.monotonic() - cut_at < OUTAGE_SECONDS:
            said = bot.slash(slack, "brightops", timeout=10)
            assert said.status == 200
            assert said.acked_in < 3.0, f"the ack took {said.acked_in:.2f} s"
            assert said.answer is not None and said.answer["response_type"] == "ephemeral"
            assert "temporarily unavailable" in said.text
            answers += 1
            time.sleep(2)
        assert answers >= 5
        assert not any("queued during" in t for t in admin_texts(slack))
        assert bot.alive(), bot.output()

        proxy.restore()
        bot.wait_healthy(timeout=60)
        back = wait_until(
            lambda: (
                (r := bot.slash(slack, "brightops")).status == 200 and "BrightOps" in r.text and r
            ),
            timeout=30,
            what="slash commands to answer from the database again",
        )
        assert "temporarily unavailable" not in back.text
        wait_until(
            lambda: sum("queued during" in t for t in admin_texts(slack)) == QUEUED,
            timeout=90,
            what="the work queued during the outage to be delivered",
        )
        time.sleep(2)  # a couple more sender ticks: nothing may be sent twice
        queued = [t for t in admin_texts(slack) if "queued during" in t]
        assert sorted(queued) == [f"queued during the outage #{i}" for i in range(QUEUED)]
        posted_once(slack, pg_factory, "database away for 30 s")
        assert bot.alive() and bot.proc is not None and bot.proc.pid == pid  # no restart
        assert bot.starts == 1
    finally:
        proxy.close()
