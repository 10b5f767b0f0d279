from __future__ import annotations

import threading
import time

import pytest
from recommendations import executor
from recommendations.executor import WorkerPool


def test_runs_calls_on_its_workers_and_returns_results() -> None:
    pool = WorkerPool(3, max_workers=3, thread_name_prefix="test")
    try:
        futures = [
            pool.submit(lambda n=n: (n * n, threading.current_thread().name)) for n in range(50)
        ]
        results = [future.result(timeout=5) for future in futures]
    finally:
        pool.shutdown()
    assert [value for value, _ in results] == [n * n for n in range(50)]
    assert {name for _, name in results} <= {"test-0", "test-1", "test-2"}


def test_exceptions_reach_the_future_and_the_worker_survives() -> None:
    pool = WorkerPool(1, max_workers=1)
    try:
        failing = pool.submit(lambda: 1 // 0)
        with pytest.raises(ZeroDivisionError):
            failing.result(timeout=5)
        assert pool.submit(lambda: "still working").result(timeout=5) == "still working"
    finally:
        pool.shutdown()


def test_done_callbacks_run() -> None:
    pool = WorkerPool(2, max_workers=2)
    done = threading.Event()
    try:
        pool.submit(lambda: None).add_done_callback(lambda _future: done.set())
        assert done.wait(5)
    finally:
        pool.shutdown()


def test_shutdown_waits_for_queued_calls_then_refuses_new_ones() -> None:
    pool = WorkerPool(2, max_workers=2)
    ran: list[int] = []
    for n in range(20):
        pool.submit(ran.append, n)
    pool.shutdown(wait=True)
    assert sorted(ran) == list(range(20))
    assert not any(thread.is_alive() for thread in pool._threads)
    with pytest.raises(RuntimeError, match="shut down"):
        pool.submit(ran.append, 99)


def test_spare_threads_serve_while_the_workers_wait_then_end(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(executor, "SPARE_IDLE_SECONDS", 0.2)
    pool = WorkerPool(2, max_workers=4, thread_name_prefix="test")
    release = threading.Event()
    try:
        held = [pool.submit(release.wait, 10) for _ in range(2)]  # both workers wait
        waiting = pool.submit(lambda: "served")
        with pytest.raises(TimeoutError):
            waiting.result(timeout=0.2)
        pool.spare(2)
        assert waiting.result(timeout=5) == "served"
        assert pool.threads == 4
        release.set()
        assert all(future.result(timeout=5) for future in held)
        deadline = time.monotonic() + 5
        while pool.threads > 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert pool.threads == 2
    finally:
        release.set()
        pool.shutdown()


def test_spare_threads_never_exceed_the_maximum_nor_start_after_shutdown() -> None:
    pool = WorkerPool(2, max_workers=3)
    try:
        pool.spare(10)
        assert pool.threads == 3
    finally:
        pool.shutdown()
    pool.spare(10)
    assert pool.threads == 0


def test_a_callback_added_after_the_call_is_done_runs_at_once() -> None:
    pool = WorkerPool(1, max_workers=1)
    try:
        future = pool.submit(lambda: 42)
        assert future.result(timeout=5) == 42
        seen: list[object] = []
        future.add_done_callback(seen.append)
    finally:
        pool.shutdown()
    assert seen == [future]
    assert future.done()


def test_a_failing_callback_is_logged_and_the_others_still_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    pool = WorkerPool(1, max_workers=1)
    release = threading.Event()
    ran: list[str] = []
    try:
        future = pool.submit(release.wait, 5)
        future.add_done_callback(lambda _future: 1 // 0)
        future.add_done_callback(lambda _future: ran.append("second"))
        release.set()
        future.result(timeout=5)
        assert pool.submit(lambda: "worker alive").result(timeout=5) == "worker alive"
    finally:
        pool.shutdown()
    assert ran == ["second"]
    assert "done callback" in caplog.text


def test_a_waiter_wakes_when_the_call_finishes() -> None:
    pool = WorkerPool(1, max_workers=1)
    release = threading.Event()
    try:
        future = pool.submit(lambda: release.wait(5) and "finished")
        threading.Timer(0.1, release.set).start()
        assert not future.done()
        assert future.result(timeout=5) == "finished"
        assert future.exception() is None
    finally:
        release.set()
        pool.shutdown()
