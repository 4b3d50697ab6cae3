"""Errors of the local stack that a user can cause and fix; each message is one line."""

from __future__ import annotations


class StackError(RuntimeError):
    """A local component could not be provisioned or started; the message says what to do."""


class MissingPrerequisite(StackError):
    """A tool the stack needs (java, mvn, go) is not on PATH."""


class ProvisioningError(StackError):
    """A download or build of a tool failed; the message ends with the tool's last output."""
