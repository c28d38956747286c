"""`homecheck serve`: the test endpoint a network probe measures against. Installed with the
`serve` extra (`pip install 'homecheck[serve]'`); the candidate's tool never imports it.

app.py (the Starlette app factory and the speed-test routes), udp_echo.py and loss_probe.py (the
UDP echo and the loss probe in the same event loop), sessions.py (tests in progress and their
limits), connections.py and upload_sink.py (each connection's socket, for kernel byte counts, and
the upload fast path), serve.py (uvicorn, binding, shutdown), command.py (the CLI). The wire
format is homecheck/wire.py, shared with the network probe.
"""
