"""Events reach the real broker (Redis) after commit, and never when the transaction rolls back."""

import json

import pytest
import redis
from django.conf import settings
from django.db import transaction

from prm.events import publish_on_commit


@pytest.fixture
def queue(settings):
    settings.PRM = {**settings.PRM, "EVENT_TASKS": {"test_event": ("tests.fake_handler",)}}
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)

    def messages():
        out = []
        for raw in client.lrange("celery", 0, -1):
            message = json.loads(raw)
            if message["headers"]["task"] == "tests.fake_handler":
                out.append(message)
        return out

    def clear():
        for raw in client.lrange("celery", 0, -1):
            if json.loads(raw)["headers"]["task"] == "tests.fake_handler":
                client.lrem("celery", 0, raw)

    clear()
    yield messages
    clear()


@pytest.mark.django_db(transaction=True)
def test_publish_on_commit_sends_after_commit_only(queue):
    if not settings.CELERY_BROKER_URL.startswith("redis"):
        pytest.fail("tests run against the real Redis broker")
    with transaction.atomic():
        publish_on_commit("test_event", 42)
        assert queue() == []  # not before commit
    sent = queue()
    assert len(sent) == 1
    assert sent[0]["headers"]["argsrepr"] == "['test_event', 42]"

    with pytest.raises(RuntimeError), transaction.atomic():
        publish_on_commit("test_event", 43)
        raise RuntimeError("rolled back")
    assert len(queue()) == 1  # the rolled-back event never left


@pytest.mark.django_db(transaction=True)
def test_publish_on_commit_ignores_events_nobody_handles(queue):
    publish_on_commit("unknown_event", 1)
    assert queue() == []


@pytest.mark.django_db(transaction=True)
def test_events_paused_publishes_nothing(queue):
    from prm.events import events_paused

    with events_paused():
        publish_on_commit("test_event", 7)
    assert queue() == []
    publish_on_commit("test_event", 8)
    assert len(queue()) == 1
