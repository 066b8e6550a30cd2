"""CLIENT TRACKING / CACHING / TRACKINGINFO / GETREDIR: the replies and every error
text, the same on redis-server and PulsarDS (RESP2 and RESP3)."""

from __future__ import annotations

from typing import Any

import pytest

Same = Any

NOT_EXISTING = "9223372036854775807"


def test_tracking_syntax_and_arity(same: Same) -> None:
    same("CLIENT", "TRACKING")
    same("CLIENT", "TRACKING", "maybe")
    same("CLIENT", "TRACKING", "on", "foo")
    same("CLIENT", "TRACKING", "off", "foo")
    same("CLIENT", "TRACKING", "on", "REDIRECT")
    same("CLIENT", "TRACKING", "on", "PREFIX")
    same("CLIENT", "TRACKING", "on", "BCAST", "PREFIX")
    same("CLIENT", "TRACKING", "maybe", "BCAST")
    same("CLIENT", "TRACKINGINFO", "extra")
    same("CLIENT", "GETREDIR", "extra")
    same("CLIENT", "CACHING")
    same("CLIENT", "CACHING", "yes", "extra")
    same("CLIENT", "TRACKINGINFO")
    same("CLIENT", "GETREDIR")


@pytest.mark.parametrize("redirect", ["x", "-1", "0", "1.5", "", NOT_EXISTING])
def test_tracking_bad_redirect(same: Same, redirect: str) -> None:
    same("CLIENT", "TRACKING", "on", "REDIRECT", redirect)
    same("CLIENT", "TRACKING", "off", "REDIRECT", redirect)  # checked for OFF too
    same("CLIENT", "TRACKINGINFO")


@pytest.mark.parametrize(
    "options",
    [
        ["PREFIX", "a"],
        ["OPTIN", "PREFIX", "a"],
        ["BCAST", "OPTIN"],
        ["BCAST", "OPTOUT"],
        ["OPTIN", "OPTOUT"],
        ["BCAST", "OPTIN", "OPTOUT"],
        ["BCAST", "PREFIX", "a", "PREFIX", "ab"],
        ["BCAST", "PREFIX", "abc", "PREFIX", "ab"],
        ["BCAST", "PREFIX", "", "PREFIX", "x"],
        ["bcast", "prefix", "a", "noloop", "prefix", "b"],
        ["OPTIN", "NOLOOP"],
        ["optout"],
        ["NOLOOP", "NOLOOP", "BCAST", "BCAST"],
    ],
)
def test_tracking_options(same: Same, options: list[str]) -> None:
    same("CLIENT", "TRACKING", "on", *options)
    same("CLIENT", "TRACKINGINFO")
    same("CLIENT", "GETREDIR")
    same("CLIENT", "TRACKING", "off")
    same("CLIENT", "TRACKINGINFO")


def test_turning_on_again(same: Same) -> None:
    same("CLIENT", "TRACKING", "on")
    same("CLIENT", "TRACKING", "on", "BCAST")  # can't switch BCAST on
    same("CLIENT", "TRACKING", "on", "OPTIN")
    same("CLIENT", "TRACKING", "on", "OPTOUT")  # nor OPTIN to OPTOUT
    same("CLIENT", "TRACKINGINFO")
    same("CLIENT", "TRACKING", "on", "NOLOOP")  # options are replaced, not added
    same("CLIENT", "TRACKINGINFO")
    same("CLIENT", "TRACKING", "on", "OPTOUT")
    same("CLIENT", "TRACKING", "on", "OPTIN")
    same("CLIENT", "TRACKING", "off")
    same("CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "user:")
    same("CLIENT", "TRACKING", "on")  # nor BCAST off
    same("CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "user:1")
    same("CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "use")
    same("CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "obj:", "PREFIX", "item:")
    same("CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "user:")  # already there: fine
    same("CLIENT", "TRACKINGINFO")
    same("CLIENT", "TRACKING", "on", "BCAST")  # no prefix: all keys, beside the others
    same("CLIENT", "TRACKINGINFO")
    same("CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "z")  # "" overlaps everything
    same("CLIENT", "TRACKING", "off")
    same("CLIENT", "TRACKINGINFO")
    same("CLIENT", "TRACKING", "off")


def test_caching(same: Same) -> None:
    same("CLIENT", "CACHING", "yes")
    same("CLIENT", "CACHING", "maybe")  # not tracking: that error first
    same("CLIENT", "TRACKING", "on")
    same("CLIENT", "CACHING", "yes")
    same("CLIENT", "CACHING", "no")
    same("CLIENT", "CACHING", "maybe")
    same("CLIENT", "TRACKING", "on", "OPTIN")
    same("CLIENT", "CACHING", "no")
    same("CLIENT", "CACHING", "YES")
    same("CLIENT", "TRACKINGINFO")  # CLIENT commands keep it
    same("PING")
    same("CLIENT", "TRACKINGINFO")  # any other command ends it
    same("CLIENT", "TRACKING", "off")
    same("CLIENT", "TRACKING", "on", "OPTOUT")
    same("CLIENT", "CACHING", "yes")
    same("CLIENT", "CACHING", "no")
    same("MULTI")
    same("GET", "k")
    same("CLIENT", "TRACKINGINFO")
    same("EXEC")
    same("CLIENT", "TRACKINGINFO")
    same("CLIENT", "TRACKING", "off")


def test_in_transactions_and_scripts(same: Same) -> None:
    same("MULTI")
    same("CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "a")
    same("CLIENT", "TRACKINGINFO")
    same("CLIENT", "CACHING", "yes")
    same("EXEC")
    same("EVAL", "return redis.call('client', 'tracking', 'on')", "0")
    same("EVAL", "return redis.pcall('client', 'trackinginfo')", "0")
    same("CLIENT", "TRACKING", "off")
    same("RESET")
    same("CLIENT", "TRACKINGINFO")


def test_command_docs_list_the_subcommands(same: Same) -> None:
    for sub in ("caching", "tracking", "trackinginfo", "getredir"):
        same("COMMAND", "INFO", f"client|{sub}")
        same("COMMAND", "GETKEYS", "CLIENT", sub.upper(), "x")
