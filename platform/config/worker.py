"""The Celery worker, started as ``python -m config.worker`` (``--help`` lists the options).

This is Celery's embedding API (``app.Worker(...).start()``, what ``celery worker``
itself calls) behind the few options the project uses. It exists for memory: the
``celery`` command line imports every subcommand, among them ``amqp`` with
``click-repl``, ``prompt_toolkit`` and ``pygments``, which stay in the worker and in
every forked pool process, about 10 MB RSS each (``bench/uploads.py``). For any other
option, ``celery -A config worker`` starts the same worker.
"""

from __future__ import annotations

import argparse
import os
import sys


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m config.worker", description="Start the Celery worker of Atrium."
    )
    parser.add_argument("-l", "--loglevel", default="INFO")
    parser.add_argument("-c", "--concurrency", type=int, default=None)
    parser.add_argument("-P", "--pool", default=None, help="prefork (default) or solo")
    parser.add_argument("-Q", "--queues", default=None, help="comma-separated queue names")
    parser.add_argument("-n", "--hostname", default=None, help="node name; %%h is the host")
    parser.add_argument("-B", "--beat", action="store_true", help="embed the beat scheduler")
    parser.add_argument("-s", "--schedule", default=None, help="beat's schedule file")
    for event in ("gossip", "mingle", "heartbeat"):
        parser.add_argument(f"--without-{event}", action="store_true")
    return parser.parse_args(argv)


def worker_options(args: argparse.Namespace) -> dict:
    """``app.Worker`` keyword arguments for the parsed command line."""
    from celery.utils.nodenames import default_nodename, host_format

    options: dict = {
        "loglevel": args.loglevel.upper(),
        "beat": args.beat,
        "without_gossip": args.without_gossip,
        "without_mingle": args.without_mingle,
        "without_heartbeat": args.without_heartbeat,
    }
    for name, value in (
        ("concurrency", args.concurrency),
        ("pool_cls", args.pool),
        ("queues", args.queues),
        ("hostname", host_format(default_nodename(args.hostname)) if args.hostname else None),
        ("schedule_filename", args.schedule),
    ):
        if value is not None:
            options[name] = value
    return options


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    # On SIGHUP the worker restarts itself with os.execv(sys.executable, sys.argv):
    # started with -m, sys.argv[0] is this file's path, and run as a script it would
    # put config/ first on sys.path, where config/celery.py hides the celery package.
    sys.argv = ["-m", "config.worker", *argv]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
    # Celery's Django fixup runs the system checks at start, and the URL checks import
    # every view (the API's DRF and drf-spectacular among them, about 20 MB) into a
    # process that serves no URL. The release step's migrate_schemas runs the checks.
    os.environ.setdefault("CELERY_SKIP_CHECKS", "1")
    import django

    django.setup()
    from config.celery import app

    worker = app.Worker(**worker_options(args))
    worker.start()
    return worker.exitcode or 0


if __name__ == "__main__":
    sys.exit(main())
