"""
schemathesis hooks for SFTS's fuzz test (test/e2e/fuzz.test.ts): a rejected request changes no state.

Around every request schemathesis sends, the hooks ask the vitest process (SFTS_STATE_DIGEST_URL, served
by test/helpers/state-digest.ts) for a digest of the stack's durable state, the table and the bucket.
The check `rejected_request_changes_no_state` fails any 4xx answer that came with a different digest.

Sequencing is exact. One lock is held from the digest before a request until the digest after it, so
however many workers run, requests reach the API one at a time and nothing else changes the state in
between (generating requests, most of schemathesis' time, still runs in parallel). The digest taken
after a refused request is also the digest before the next one: the API writes only while it serves a
request, and every request of the run passes through these hooks. After any other answer, or a network
error, the next request asks for a fresh digest.
"""

import json
import os
import threading
import urllib.request

import schemathesis

DIGEST_URL = os.environ["SFTS_STATE_DIGEST_URL"]

# Refusals whose documented meaning is "storage disagreed with the records, and I recorded what it holds":
#   CHECKSUM_MISMATCH (409) - assemble found parts that storage does not hold as recorded: it forgets
#                             those part records and reopens the upload, so the client sends them again;
#   UPLOAD_GONE (410)       - storage no longer has the multipart upload: the transfer is marked failed.
# Both answer a change made outside the API, which a fuzz run never makes; they are exempt, by name.
STATE_REPAIRING_CODES = frozenset({"CHECKSUM_MISMATCH", "UPLOAD_GONE"})

_one_request_at_a_time = threading.Lock()
_holder = threading.local()
# Guarded by the lock: the state's digest when no request is in flight, if known; and the digest taken
# before the request in flight.
_known_digest: str | None = None
_digest_before: str | None = None
# Responses (kept alive, so their id() is not reused) to requests refused although they changed state.
_violations: dict[int, tuple[object, str]] = {}


def _get(path: str) -> dict:
    with urllib.request.urlopen(f"{DIGEST_URL}{path}", timeout=60) as r:
        return json.load(r)


def _digest() -> str:
    return _get("/digest")["digest"]


def _release() -> None:
    global _digest_before
    _digest_before = None
    if getattr(_holder, "holds", False):
        _holder.holds = False
        _one_request_at_a_time.release()


@schemathesis.hook
def before_call(context, case, kwargs):
    global _known_digest, _digest_before
    # A call that ended in an exception schemathesis does not pass to hooks leaves this thread holding
    # the lock: keep it rather than wait for ourselves, and forget what that call may have changed.
    if getattr(_holder, "holds", False):
        _known_digest = None
    else:
        if not _one_request_at_a_time.acquire(timeout=120):
            raise RuntimeError("state check: another request held the lock for 120 s")
        _holder.holds = True
    _digest_before = _known_digest if _known_digest is not None else _digest()
    _known_digest = None


@schemathesis.hook
def after_call(context, case, response):
    global _known_digest
    try:
        before = _digest_before
        if before is None or not 400 <= response.status_code < 500:
            return
        after = _digest()
        _known_digest = after
        if after == before:
            return
        try:
            code = json.loads(response.content)["error"]["code"]
        except (ValueError, KeyError, TypeError):
            code = None
        if code in STATE_REPAIRING_CODES:
            return
        try:
            diff = _get(f"/diff?from={before}&to={after}")
            what = "\n".join(
                [f"  + {line}" for line in diff["added"]] + [f"  - {line}" for line in diff["removed"]]
            )
        except OSError as exc:
            what = f"  (no diff: {exc})"
        _violations[id(response)] = (
            response,
            f"The API answered {response.status_code} ({code}) but the stored state changed:\n{what}",
        )
    finally:
        _release()


@schemathesis.hook
def after_network_error(context, case, request):
    _release()


@schemathesis.check
def rejected_request_changes_no_state(ctx, response, case):
    """A 4xx answer leaves the table and the bucket exactly as they were."""
    found = _violations.get(id(response))
    if found is not None and found[0] is response:
        raise AssertionError(found[1])
    return None
