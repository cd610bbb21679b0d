"""`citysoc --help` lists every command without importing their modules: its summaries must
say what each module's own parser says."""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys

from citysoc.cli.main import COMMANDS, SUMMARIES


def test_each_summary_is_the_help_its_module_gives() -> None:
    for command, summary in SUMMARIES.items():
        parser = argparse.ArgumentParser()
        sub = parser.add_subparsers()
        importlib.import_module(COMMANDS[command]).add_parser(sub)
        helps = {action.dest: action.help for action in sub._choices_actions}
        assert helps.get(command) == summary, command


def test_the_command_list_imports_no_command_module() -> None:
    probe = (
        "import sys; from citysoc.cli.main import build_parser; build_parser(['--help']); "
        "print(sorted(m for m in sys.modules if m.startswith(('soc_api', 'collectors', "
        "'detections', 'eventstore', 'infra', 'citybox'))))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_every_command_has_a_summary() -> None:
    assert set(COMMANDS) <= set(SUMMARIES), set(COMMANDS) - set(SUMMARIES)
