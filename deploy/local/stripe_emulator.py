"""Run localstripe (the Stripe emulator of development and tests) on 127.0.0.1 only,
with its state in memory.

A separate process started by deploy/local/services.sh, never imported by Atrium:
localstripe is GPL, a dev extra only, and never in the production image. Its own
entry point listens on every interface and pickles its state to a fixed file after
each write; this runs the same aiohttp app bound to loopback, and makes the
store's disk methods do nothing.

    python deploy/local/stripe_emulator.py PORT
"""

import sys

from aiohttp import web
from localstripe import resources, server


def main() -> None:
    port = int(sys.argv[1])
    resources.store.dump_to_disk = lambda: None
    resources.store.try_load_from_disk = lambda: None
    web.run_app(server.app, host="127.0.0.1", port=port, access_log=None, print=None)


if __name__ == "__main__":
    main()
