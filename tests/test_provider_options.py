"""Which ``--provider-option`` names a plan may carry, asked of the installed providers."""

from __future__ import annotations

import pytest

from stackform.errors import StackformError
from stackform.plan.builder import PlanOptions
from stackform.plan.provider_options import check_provider_options
from stackform.registry import Registry


def options(*names: str, refresh: bool = True) -> PlanOptions:
    return PlanOptions(refresh=refresh, provider_options=dict.fromkeys(names, True))


def test_an_option_some_installed_provider_takes_is_accepted() -> None:
    registry = Registry()
    check_provider_options(registry, ["extractors"], options("refresh_catalog"))
    # a stack without extractors: the other installed providers are asked too
    check_provider_options(registry, ["files"], options("refresh_catalog"))
    check_provider_options(registry, ["files"], options())


def test_an_option_no_provider_takes_is_refused_naming_those_they_take() -> None:
    with pytest.raises(StackformError) as raised:
        check_provider_options(Registry(), ["files"], options("refresh_catalogue"))
    assert raised.value.reason.startswith(
        "no installed provider takes the option 'refresh_catalogue' (options the providers "
        "take: ")
    assert "refresh_catalog" in raised.value.reason.split("take: ")[1]


def test_an_option_that_needs_refreshing_is_refused_without_refresh() -> None:
    with pytest.raises(StackformError) as raised:
        check_provider_options(Registry(), ["extractors"],
                               options("refresh_catalog", refresh=False))
    assert raised.value.reason == ("the option refresh_catalog of the extractors provider "
                                   "needs refreshing; drop --refresh=false")
