"""The recruiter's dashboard: server-rendered pages on the web plane of `homecheck serve --db`.

Split by page (healthchecks' `hc/front` and `hc/accounts`): `auth` (sign-in, sign-out),
`candidates` (the list, export, deletion), `audit_log`; each page module exposes
`ROUTES: tuple[BaseRoute, ...]` and `routes.py` gathers them with the nav bar. `web` holds what
every handler uses (sessions, roles, CSRF, rendering, the audit log); `sessions` the store side of
signing in (web sessions, lock-out); `listing` the list's queries and `export` its CSV and JSON
(no HTTP in either). Pages are functions of the store and the signed-in user; verdicts come from
the aggregator through the stored submissions.

This package imports homecheck.hub; the hub imports it only where homecheck/hub/web.py mounts
the routes.
"""
