"""The README's two set-up commands are exactly what CI runs."""

from __future__ import annotations

import re

from shared_data import REPO


def _readme_setup_commands() -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## Set up", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.DOTALL)
    assert block, "README's Set up section has no bash block"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_readme_gives_exactly_two_setup_commands_and_ci_runs_them_verbatim():
    commands = _readme_setup_commands()
    assert len(commands) == 2
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    ci_commands = [
        line for line in ci if line.strip() and not line.startswith(("#", "set ", "cd "))
    ]
    assert ci_commands == commands
