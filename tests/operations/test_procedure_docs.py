"""Every `rackscan ...` command line in docs/operations/ names a verb that exists and only options
that verb has, so the procedure cannot drift from the CLI unnoticed."""

import re
from pathlib import Path

import typer.main

from rackscan.cli import app

DOCS = Path(__file__).resolve().parents[2] / "docs" / "operations"


def _command_lines() -> list[tuple[str, str]]:
    out = []
    for md in sorted(DOCS.glob("*.md")):
        text = md.read_text(encoding="utf-8").replace("\\\n", " ")
        spans = re.findall(r"```bash\n(.*?)```", text, flags=re.S) + re.findall(r"`(rackscan [^`]+)`", text)
        for span in spans:
            for line in span.splitlines():
                line = line.split("#")[0].strip()
                if line.startswith("rackscan "):
                    out.append((md.name, " ".join(line.split())))
    return out


def test_every_command_in_the_procedure_exists_with_its_options():
    root = typer.main.get_command(app)
    lines = _command_lines()
    assert len(lines) > 40
    for doc, line in lines:
        words = line.replace("&", " ").split()[1:]
        cmd = root
        while hasattr(cmd, "commands") and words and words[0] in cmd.commands:
            cmd = cmd.commands[words.pop(0)]
        assert not hasattr(cmd, "commands"), f"{doc}: {line}: no such command"
        known = {o for p in cmd.params for o in p.opts + p.secondary_opts}
        for w in words:
            if w.startswith("--") and "." not in w:
                assert w in known, f"{doc}: {line}: {w} is not an option of `{cmd.name}`"
