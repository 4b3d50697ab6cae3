"""kafkatrade: an automated stock-trading pipeline of Python microservices on Apache Kafka."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("kafkatrade")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"
