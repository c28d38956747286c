"""homecheck: is this home office ready for remote customer-service work?"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("homecheck")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+source"
