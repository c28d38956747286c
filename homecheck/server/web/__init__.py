"""The web plane of `homecheck serve`: a plain ASGI app (Starlette) served by Hypercorn in a child
process on its own port, beside the measurement plane (which owns the speed-test sockets and the
UDP echo in the parent). Later, invites and submissions (issue 13) and the recruiter's pages
(issue 14) are mounted here.

options.py (WebOptions and the checks made before starting), process.py (WebPlane: the child's
start, stop and health, standard library only), child.py (Hypercorn in the child), app.py
(`create_web_app`), middleware.py (error guard, trusted proxy headers, body bounds).

Imports point one way: nothing here imports the measurement plane (homecheck/server/*.py).
"""

from homecheck.server.web.options import WebOptions, WebPlaneError
from homecheck.server.web.process import WebPlane

__all__ = ["WebOptions", "WebPlane", "WebPlaneError"]
