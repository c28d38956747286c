"""`homecheck serve`: the test endpoint a network probe measures against.

app.py (the Starlette app factory and the speed-test routes), udp_echo.py (the UDP echo in the same
event loop), sessions.py (tests in progress and their limits), protocol.py (what goes over the
wire, shared with probes/network.py), serve.py (uvicorn, binding, shutdown), command.py (the CLI).
"""
