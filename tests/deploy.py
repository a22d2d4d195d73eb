"""Reading docker-compose.yml as Docker would: its services, and its `${...}` substitution."""

import re
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
VARIABLE = re.compile(r"\$\{(?P<name>\w+)(?:(?P<op>:[-?])(?P<arg>[^}]*))?\}")


def compose_services() -> dict[str, dict]:
    """Services with YAML merge keys (`<<: *app`) resolved, as Compose sees them."""
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's substitution: `${NAME}`, `${NAME:-default}`, `${NAME:?error}`, and `$$` for a `$`
    left to the container's shell."""

    def value(match: re.Match) -> str:
        found = env.get(match["name"], "")
        if match["op"] == ":-":
            return found or match["arg"]
        if match["op"] == ":?" and not found:
            raise ValueError(f"{match['name']}: {match['arg']}")
        return found

    return "$".join(VARIABLE.sub(value, part) for part in text.split("$$"))


def run_healthcheck(
    service: str, env: dict[str, str], **replace: str
) -> subprocess.CompletedProcess:
    """Run a service's healthcheck as Docker does (CMD-SHELL through sh, CMD as an argv), after
    Compose's substitution from `env` and the given text replacements (a port of the tests')."""
    test = compose_services()[service]["healthcheck"]["test"]
    kind, args = test[0], [interpolate(arg, env) for arg in test[1:]]
    for old, new in replace.items():
        args = [arg.replace(old, new) for arg in args]
    argv = ["sh", "-c", args[0]] if kind == "CMD-SHELL" else args
    return subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
