"""The OTLP receiver the tests' processes export to, one per module."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from harness.otlp import OtlpReceiver

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture(scope="module")
def receiver() -> Iterator[OtlpReceiver]:
    receiver = OtlpReceiver()
    receiver.start()
    yield receiver
    receiver.stop()
