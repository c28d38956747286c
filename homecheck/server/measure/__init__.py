"""The measurement plane of `homecheck serve` (standard library only): plane.py (the endpoints,
the bounds on connections and tests, the clean stop), connection.py (one connection's protocol:
bounded heads, shared read buffer, staged close), transfers.py (download and upload), http.py
(request heads, strict numbers, chunked bodies, replies)."""
