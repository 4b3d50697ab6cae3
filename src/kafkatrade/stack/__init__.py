"""The local stack: Apache Kafka (KRaft) and a MongoDB-protocol server as local processes.

`Stack(settings).up()` provisions the tools into `settings.cache_dir`, starts what does not
run, and makes the topics; `down()` stops everything. See `local.py`.
"""

from kafkatrade.stack.errors import MissingPrerequisite, ProvisioningError, StackError
from kafkatrade.stack.local import Stack

__all__ = ["MissingPrerequisite", "ProvisioningError", "Stack", "StackError"]
