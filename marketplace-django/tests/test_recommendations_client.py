"""The client's channel: one per process, opened lazily, and a fresh one after fork."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import grpc
import pytest
from storefront import recommendations
from storefront.categories import Category

PROBE = Path(__file__).with_name("fork_probe.py")


@pytest.fixture
def channels_opened(monkeypatch):
    """Counts the channels the client opens, letting each be opened for real."""
    opened = []
    real = grpc.insecure_channel

    def counting(*args, **kwargs):
        channel = real(*args, **kwargs)
        opened.append(channel)
        return channel

    monkeypatch.setattr(grpc, "insecure_channel", counting)
    return opened


def test_one_channel_serves_every_call_of_a_process(recommendations_server, channels_opened):
    for user_id in range(25):
        result = recommendations.recommend(
            reader_id=user_id, category=Category.SELF_HELP, page_size=3
        )
        assert [book.id for book in result.books] == [301, 302, 303]

    assert len(channels_opened) == 1
    assert len(set(recommendations_server.peers)) == 1
    assert [r.reader_id for r in recommendations_server.requests] == [str(n) for n in range(25)]


@pytest.mark.django_db
def test_every_request_reuses_the_channel(client, recommendations_server, channels_opened):
    for path in ("/", "/category/mystery/", "/category/self-help/", "/") * 3:
        assert client.get(path).status_code == 200

    assert len(channels_opened) == 1
    assert len(set(recommendations_server.peers)) == 1


def test_channel_is_opened_on_first_use_not_before(recommendations_server, channels_opened):
    assert channels_opened == []

    recommendations.recommend(reader_id=1, category=Category.MYSTERY, page_size=1)

    assert len(channels_opened) == 1


def test_loading_the_site_opens_no_channel():
    code = (
        "import django; django.setup();"
        "from django.core.wsgi import get_wsgi_application; get_wsgi_application();"
        "import marketplace.urls; from storefront import recommendations as r;"
        "print(r._connection is None)"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "marketplace.settings.test"}

    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )

    assert out.stdout.strip() == "True"


def run_probe(mode, target, **extra_env):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "marketplace.settings.test",
        "RECOMMENDATIONS_TARGET": target,
        **extra_env,
    }
    out = subprocess.run(
        [sys.executable, str(PROBE), mode],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return [json.loads(line) for line in out.stdout.splitlines()]


def test_children_forked_from_a_preloaded_parent_open_their_own_channels(
    recommendations_server, settings
):
    parent, *children = run_probe("preload", settings.RECOMMENDATIONS_TARGET)

    assert parent == {"parent": True, "opened": False}
    assert len(children) == 2
    for child in children:
        assert child["channel_pid"] == child["pid"]
        assert child["books"] == [101, 102]
    assert len({child["pid"] for child in children}) == 2
    assert len(set(recommendations_server.peers)) == 2


def test_child_of_a_parent_that_used_its_channel_gets_its_own(recommendations_server, settings):
    # gRPC itself only supports forking a process that already used gRPC with fork support on.
    parent, *children = run_probe(
        "after-use",
        settings.RECOMMENDATIONS_TARGET,
        GRPC_ENABLE_FORK_SUPPORT="true",
    )

    assert parent["channel_pid"] == parent["pid"]
    assert len(children) == 2
    for child in children:
        assert child["channel_pid"] == child["pid"] != parent["pid"]
        assert child["books"] == [101, 102]
        assert child["failure"] is None
    assert len(set(recommendations_server.peers)) == 3


def test_the_fields_the_service_refuses_are_logged_and_returned(recommendations_server, caplog):
    with caplog.at_level(logging.WARNING, logger="storefront.recommendations"):
        result = recommendations.recommend(
            reader_id=1, category=Category.MYSTERY, page_size=3, page_token="forged"
        )

    assert result.failure == "INVALID_ARGUMENT"
    assert result.invalid_fields == ("page_token",)
    (record,) = caplog.records
    assert record.getMessage().endswith("(fields: page_token)")
