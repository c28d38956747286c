"""`homecheck serve`: the test endpoint a network probe measures against; the candidate's tool
never imports it.

Two planes. measure/ is the measurement plane (the speed-test endpoints, the UDP echo and the loss
probe in one event loop, standard library only), with sessions.py (tests in progress and their
limits), udp_echo.py and loss_probe.py. web/ is the web plane (a process of its own). serve.py
binds the sockets and runs both; command.py is the CLI. The wire format is homecheck/wire.py,
shared with the network probe.
"""
