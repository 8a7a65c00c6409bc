"""The production settings, with the bench's session-authenticated view added to the
workspace URLs (bench/api.py)."""

import warnings

from config.settings.base import *  # noqa: F403

ROOT_URLCONF = "_apisite.urls"
warnings.filterwarnings("ignore", message="No directory at")
