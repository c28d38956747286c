"""The network measured against an employer's `homecheck serve`: the test session, the TCP
speed streams, the call-like UDP stream and the loss probe (the I/O), and `result`, which turns
one run into the probe's measurements. The wire format is homecheck/wire.py, shared with the
server."""
