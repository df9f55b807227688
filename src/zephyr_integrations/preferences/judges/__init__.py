"""The built-in judges (see :mod:`zephyr_integrations.preferences.judging` for the contract)."""
