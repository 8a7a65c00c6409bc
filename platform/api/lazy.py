"""django-oauth-toolkit imports jwcrypto's ``jwk``, ``jws`` and ``jwt`` at module level,
and with them cryptography's primitives (about 18 MB per process), for OpenID Connect,
which Atrium does not enable. They are registered here as lazy modules (the standard
library's ``importlib.util.LazyLoader``): loaded on first use, so a web process that
never serves ``/o/`` nor signs an ID token never pays for them
(``tests/uploads/test_storage_memory.py`` keeps cryptography out of a plain start).
Called from ``api.apps`` before any model is imported."""

import importlib.util
import sys

LAZY = ("jwcrypto.jwk", "jwcrypto.jws", "jwcrypto.jwt")


def defer_jwcrypto() -> None:
    for name in LAZY:
        if name in sys.modules:
            continue
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            continue
        loader = importlib.util.LazyLoader(spec.loader)
        spec.loader = loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        loader.exec_module(module)
        # Set on the package too: ``from jwcrypto import jwk`` then takes the attribute
        # without the import machinery (which would touch, and so load, the module).
        parent, _sep, child = name.rpartition(".")
        setattr(importlib.import_module(parent), child, module)
