"""Test labs shared by tests/ and bench/, not shipped with homecheck: `labs.network` (real links
with known rate, delay and loss between network namespaces, and local stand-ins of public
services) and `labs.audio` (a virtual microphone fed known signals)."""
