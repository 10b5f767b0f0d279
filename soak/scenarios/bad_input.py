"""4. Bad input: generated requests sent as raw bytes to a running server.

hypothesis draws well-formed requests over every field's full int32 range (unknown enum values
included), well-formed requests followed by random bytes, random byte strings, truncated
requests and requests over the 64 KiB limit. Each answer is checked against what the proto
promises for the bytes sent (parsed here with the same protobuf runtime):
- over 64 KiB: RESOURCE_EXHAUSTED;
- not a RecommendRequest: INVALID_ARGUMENT;
- a known category, user_id >= 0 and max_results >= 0: OK with distinct books, as many as asked
  (the server's default when 0, at most 10);
- anything else: INVALID_ARGUMENT naming an offending field.
Never UNKNOWN, never a crash, and the server is healthy afterwards.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import TYPE_CHECKING

import grpc
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from harness import api
from harness.metrics import by_label
from harness.service import Replica
from soak.scenarios.base import Outcome

if TYPE_CHECKING:
    from soak.scenarios.base import Context

TITLE = "Bad input"
_LIMIT = 64 * 1024
_MAX_BOOKS = 10
_MINIMUM_REQUESTS = 10_000
_MINIMUM_REQUESTS_SHORT = 2_500
_FIELDS = ("user_id", "category", "max_results")

int32 = st.integers(api.INT32_MIN, api.INT32_MAX)
fields = st.tuples(int32, st.one_of(st.sampled_from(api.KNOWN_CATEGORIES), int32), int32)
well_formed = fields.map(lambda f: ("well-formed", api.encode_request(*f)))
followed_by_bytes = st.tuples(fields, st.binary(min_size=1, max_size=64)).map(
    lambda t: ("well-formed + random bytes", api.encode_request(*t[0]) + t[1])
)
random_bytes = st.binary(max_size=512).map(lambda b: ("random bytes", b))
truncated = st.tuples(fields, st.floats(0, 1, exclude_max=True)).map(
    lambda t: ("truncated", _cut(api.encode_request(*t[0]), t[1]))
)
oversized = st.tuples(st.integers(_LIMIT + 1, _LIMIT + 16 * 1024), st.binary(max_size=16)).map(
    lambda t: ("over 64 KiB", (t[1] * (t[0] // max(1, len(t[1])) + 1))[: t[0]] or bytes(t[0]))
)
small = st.one_of(well_formed, followed_by_bytes, random_bytes, truncated)
# An oversized request takes gRPC about 0.2 s to refuse (against 1 ms for the others), so they
# are one in 200 (a value hypothesis does not favour, as it does 0 and the bounds).
requests = st.integers(0, 199).flatmap(lambda n: oversized if n == 117 else small)


def _cut(message: bytes, where: float) -> bytes:
    return message[: int(len(message) * where)]


def run(context: Context) -> Outcome:
    """Send at least 10,000 generated requests (2,500 in --short) and check every answer."""
    outcome = Outcome("bad_input", TITLE)
    minimum = _MINIMUM_REQUESTS_SHORT if context.short else _MINIMUM_REQUESTS
    replica = Replica(context.supervisor, "bad-input", context.catalog)
    replica.start()
    sent: defaultdict[str, Counter[str]] = defaultdict(Counter)  # codes answered, by kind
    wrong: list[str] = []  # the first 20 answers the contract does not give
    with grpc.insecure_channel(replica.address) as channel:
        call = api.raw_recommend(channel)

        @settings(
            max_examples=minimum,
            derandomize=True,
            database=None,
            deadline=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(requests)
        def send(kind_and_bytes: tuple[str, bytes]) -> None:
            kind, raw = kind_and_bytes
            try:
                answer: bytes | None = call(raw, timeout=10)
                code, details = grpc.StatusCode.OK, ""
            except grpc.RpcError as error:
                answer = None
                code, details = api.failure(error)
            sent[kind][code.name] += 1
            problem = _judge(raw, code, details, answer)
            if problem is not None and len(wrong) < 20:
                wrong.append(f"{kind} {raw[:40]!r}... ({len(raw)} B): {problem}")

        send()
        healthy = api.health(channel)
        normal = api.call_code(channel)
    codes_seen = by_label(replica.metrics(), "grpc_server_handled_total", "grpc_code")
    alive = replica.process is not None and replica.process.poll() is None
    status = replica.terminate()

    total = sum(counts.total() for counts in sent.values())
    outcome.figure("requests sent", f"{total:,}")
    for kind, counts in sorted(sent.items()):
        outcome.figure(f"  {kind}", ", ".join(f"{c} {n:,}" for c, n in counts.most_common()))
    outcome.figure("server's own counters by code", {k: int(v) for k, v in codes_seen.items()})
    answered = {code for counts in sent.values() for code in counts}
    outcome.promise(total >= minimum, f"at least {minimum:,} generated requests", total)
    outcome.promise(
        "UNKNOWN" not in answered and "INTERNAL" not in answered,
        "no UNKNOWN or INTERNAL status",
        sorted(answered),
    )
    outcome.promise(
        not wrong,
        "every answer is the one the contract gives for its bytes",
        "; ".join(wrong[:5]) or "all as promised",
    )
    outcome.promise(
        alive and healthy == "SERVING" and normal == grpc.StatusCode.OK,
        "the server is alive, SERVING and answering afterwards",
        f"alive={alive}, health={healthy}, call={normal.name}",
    )
    outcome.promise(status == 0, "the replica exited 0 on SIGTERM", status)
    return outcome


def _judge(raw: bytes, code: grpc.StatusCode, details: str, answer: bytes | None) -> str | None:
    """What is wrong with (code, details, answer) for the request `raw`, or None."""
    expected, bad, max_results = _expected(raw)
    if code != expected:
        return f"{code.name} {details!r}, expected {expected.name}"
    if bad and not any(name in details for name in bad):
        return f"INVALID_ARGUMENT {details!r} names none of the invalid fields {bad}"
    if code == grpc.StatusCode.OK:
        return _wrong_books(api.decode_books(answer or b""), max_results)
    return None


def _expected(raw: bytes) -> tuple[grpc.StatusCode, list[str], int]:
    """The code the contract gives for `raw`, the invalid fields, and the max_results sent."""
    if len(raw) > _LIMIT:
        return grpc.StatusCode.RESOURCE_EXHAUSTED, [], 0
    parsed = api.decode_request(raw)
    if parsed is None:
        return grpc.StatusCode.INVALID_ARGUMENT, [], 0
    user_id, category, max_results = parsed
    invalid = (user_id < 0, category not in api.KNOWN_CATEGORIES, max_results < 0)
    bad = [name for name, wrong in zip(_FIELDS, invalid, strict=True) if wrong]
    return (grpc.StatusCode.INVALID_ARGUMENT if bad else grpc.StatusCode.OK), bad, max_results


def _wrong_books(books: list[tuple[int, str]], max_results: int) -> str | None:
    """What is wrong with the books answered for `max_results`, or None."""
    ids = [book_id for book_id, _ in books]
    if len(set(ids)) != len(ids) or any(i <= 0 for i in ids) or any(not t for _, t in books):
        return f"duplicate, non-positive or untitled books {books}"
    wanted = min(max_results, _MAX_BOOKS) if max_results else None
    if (wanted is not None and len(ids) != wanted) or not 1 <= len(ids) <= _MAX_BOOKS:
        return f"{len(ids)} books for max_results={max_results}"
    return None
