"""Helpers shared by the tests (public, so no test imports another test module's privates)."""
