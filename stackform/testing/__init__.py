"""Conformance suites for extension authors: subclass one in your own tests and every check of
the contract runs against your provider, state backend or run-state store.

- :mod:`stackform.testing.provider_conformance` for providers (the built-in ones run it);
- :mod:`stackform.testing.state_conformance` for state backends;
- :mod:`stackform.testing.run_store_conformance` for run-state stores.

They need pytest (``pip install "stackform[test]"``); importing this package alone does not.
"""
