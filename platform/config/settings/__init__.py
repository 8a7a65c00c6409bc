"""Settings packages: ``base`` reads the environment; ``test`` tunes it for the suite."""
