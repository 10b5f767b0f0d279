"""The client's channel: one per process, opened on first use (not when the site loads), and a
fresh one after fork."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from unittest import mock

import grpc
import pytest
from storefront import recommendations
from storefront.categories import Category

PROBE = Path(__file__).with_name("fork_probe.py")


@pytest.mark.django_db
def test_one_channel_opened_on_first_use_serves_every_call_and_page(
    client, recommendations_server, monkeypatch
):
    opened = mock.Mock(wraps=grpc.insecure_channel)  # each channel still opened for real
    monkeypatch.setattr(grpc, "insecure_channel", opened)
    for user_id in range(25):
        result = recommendations.recommend(
            reader_id=user_id, category=Category.SELF_HELP, page_size=3
        )
        assert [book.id for book in result.books] == [301, 302, 303]
    for path in ("/", "/category/mystery/", "/category/self-help/", "/") * 3:
        assert client.get(path).status_code == 200

    assert opened.call_count == 1
    assert len(set(recommendations_server.peers)) == 1
    calls = [r.reader_id for r in recommendations_server.requests[:25]]
    assert calls == [str(n) for n in range(25)]


def run_probe(mode, target, **extra_env):
    env = {"DJANGO_SETTINGS_MODULE": "marketplace.settings.test", "RECOMMENDATIONS_TARGET": target}
    out = subprocess.run(
        [sys.executable, str(PROBE), mode],
        env=os.environ | env | extra_env,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return [json.loads(line) for line in out.stdout.splitlines()]


def test_children_forked_from_a_preloaded_or_a_used_parent_open_their_own_channels(
    recommendations_server, settings
):
    parent, *children = run_probe("preload", settings.RECOMMENDATIONS_TARGET)
    assert parent == {"parent": True, "opened": False}, "loading the site opened a channel"
    # gRPC itself only supports forking a process that already used gRPC with fork support on.
    used, *children_of_used = run_probe(
        "after-use", settings.RECOMMENDATIONS_TARGET, GRPC_ENABLE_FORK_SUPPORT="true"
    )
    assert used["channel_pid"] == used["pid"]

    assert len(children) == len(children_of_used) == 2
    for child in children + children_of_used:
        assert child["channel_pid"] == child["pid"] not in (parent.get("pid"), used["pid"])
        assert child["books"] == [101, 102]
        assert child["failure"] is None
    assert len({child["pid"] for child in children}) == 2
    assert len(set(recommendations_server.peers)) == 5
