"""The network measured against public speed-test servers (speedtest.net through speedtest-cli),
with delay, jitter and loss sampled against the same server, when no employer server is given."""
