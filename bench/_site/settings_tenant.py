"""The production settings with tenancy, serving the bench view on workspace hosts."""

import warnings

from config.settings.base import *  # noqa: F403

ROOT_URLCONF = "_site.urls"

# No collected static files in a benchmark checkout; WhiteNoise need not say so.
warnings.filterwarnings("ignore", message="No directory at")
