"""Utilities for stackform: kind ``utilities``, any other tool a project installs and runs
(sqlfluff, yamllint, great_expectations, elementary, awscli...).

A utility is installed like a Singer plugin, isolated in a venv of stackform's shared cache; its
named ``commands`` run as pipeline steps ``NAME:COMMAND`` from the stack's folder. Its
``config`` reaches the tool only as environment variables (``<NAME>_<KEY>``, see
:mod:`.command`), so secrets in it are never written to a file.
"""

from stackform_utilities.provider import UtilityProvider

__all__ = ["UtilityProvider"]
