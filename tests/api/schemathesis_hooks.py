"""schemathesis hooks for ``test_schema.py``'s run (loaded through ``SCHEMATHESIS_HOOKS``).

A valid ``Idempotency-Key`` that the fuzzer draws twice (Hypothesis draws small values
such as ``"0"`` often) makes the API answer the second request with the first one's
response, by design. In a stateful scenario that response names a document that an
earlier scenario created and deleted, and the "created resource not found" check
(ST302) reports its 404 as a bug. So every valid key is made unique; an invalid key is
sent as drawn, and its 400 is still fuzzed. Replays themselves are tested in
``test_behaviour.py``.
"""

import re
import uuid

import schemathesis

# api.idempotency.KEY_PATTERN (not imported: this runs in schemathesis' process, without
# Django).
VALID_KEY = re.compile(r"[!-~]{1,255}")


@schemathesis.hook
def before_call(context, case, **kwargs) -> None:
    headers = case.headers or {}
    for name, value in headers.items():
        valid = isinstance(value, str) and VALID_KEY.fullmatch(value)
        if name.lower() == "idempotency-key" and valid:
            headers[name] = uuid.uuid4().hex
