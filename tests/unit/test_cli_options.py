"""Options that several commands share are defined once (argparse parents): same flags, same help."""

from __future__ import annotations

import argparse

import pytest

from snncc.cli import build_parser, main

SHARED = {
    ("compile", "convert"): ["--target", "--out", "--force", "--samples", "--lava-samples", "--min-agreement"],
    ("compile", "check", "convert", "simulate"): ["--quiet", "--max-elements", "--max-steps"],
    ("compile", "check", "convert", "targets"): ["--json"],
}


def subcommands() -> dict[str, argparse.ArgumentParser]:
    (sub,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return sub.choices


def option(parser: argparse.ArgumentParser, flag: str) -> argparse.Action:
    (action,) = [a for a in parser._actions if flag in a.option_strings]
    return action


@pytest.mark.parametrize(("commands", "flags"), SHARED.items())
def test_shared_options_have_one_definition(commands, flags):
    parsers = subcommands()
    for flag in flags:
        actions = [option(parsers[c], flag) for c in commands]
        described = {(tuple(a.option_strings), a.help, a.default, a.required, a.type) for a in actions}
        assert len(described) == 1, (flag, described)


@pytest.mark.parametrize("command", ["compile", "convert"])
def test_help_lists_the_shared_options(command, capsys):
    with pytest.raises(SystemExit) as done:
        main([command, "--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    for flag in SHARED["compile", "convert"] + ["--json", "--quiet", "--max-elements"]:
        assert flag in text, flag
    assert "verify on the first N samples only" in text  # the one help text of --samples
