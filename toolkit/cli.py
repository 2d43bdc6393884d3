"""Command line: ``python -m toolkit ACTION TOPIC [options]`` (also installed as ``gradient-lab``).

Topics are discovered (:func:`toolkit.topics.discover_topics`): each declares in its ``topic.py`` the
module whose ``ACTIONS = {"train": (help, add_arguments, run), "evaluate": (...)}`` are its headless
runs; ``run(args)`` prints metrics and returns an exit code. A topic with a ready-made study also gets
the ``sweep`` action. Topic modules are imported only when used, so ``--help`` is fast.
``python -m toolkit sweep --list`` lists every sweep experiment.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from .topics import discover_topics

__all__ = ["main", "TOPICS", "ACTIONS"]

#: topic name -> description, from the topics' own declarations (toolkit/<topic>/topic.py)
TOPICS = {name: topic.description for name, topic in discover_topics().items()}
ACTIONS = {
    "train": "train a model and save it (checkpoint, metrics.json, charts)",
    "evaluate": "evaluate a model on a fixed test set and print the metrics",
    "sweep": "run a hyperparameter study (Optuna) over a topic's parameters",
}


def _topic_actions(topic: str) -> dict:
    declared = discover_topics().get(topic)
    module = declared.cli if declared is not None and declared.cli else f"toolkit.{topic}.cli"
    return importlib.import_module(module).ACTIONS


def _top_parser() -> argparse.ArgumentParser:
    epilog = "actions:\n" + "\n".join(f"  {a:<10} {h}" for a, h in ACTIONS.items())
    epilog += "\n\ntopics:\n" + "\n".join(f"  {t:<10} {h}" for t, h in TOPICS.items())
    epilog += "\n\nexample: python -m toolkit train feedback --rule rbp --epochs 5 --out runs/rbp"
    parser = argparse.ArgumentParser(
        prog="python -m toolkit",
        description="Gradient Lab: three ways a gradient can travel.",
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("action", choices=list(ACTIONS), help="what to do")
    parser.add_argument("topic", choices=list(TOPICS), help="which topic")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``ACTION TOPIC`` first, then the topic's own options for that action."""
    if argv is not None and (
        isinstance(argv, (str, bytes))
        or not isinstance(argv, Sequence)
        or not all(isinstance(a, str) for a in argv)
    ):
        raise TypeError(f"argv must be a list of strings or None, got {argv!r}")
    argv = list(sys.argv[1:] if argv is None else argv)
    top = _top_parser()
    if not argv or argv[0] in ("-h", "--help"):
        top.print_help()
        return 0
    if argv[0] == "sweep" and argv[1:2] == ["--list"]:  # every experiment, whatever its topic
        from .sweeps.cli import main as sweeps_main

        return sweeps_main(argv[1:])
    head = [a for a in argv[:2]]
    ns = top.parse_args(head)
    actions = dict(_topic_actions(ns.topic))
    if ns.action == "sweep":  # one sweep engine for every topic with a ready-made study (Optuna)
        from .sweeps.cli import ACTIONS as SWEEPS

        if ns.topic in SWEEPS:
            actions["sweep"] = SWEEPS[ns.topic]
    if ns.action not in actions:
        top.error(f"topic {ns.topic!r} has no {ns.action!r} action; it has: {', '.join(actions)}")
    help_text, add_arguments, run = actions[ns.action]
    sub = argparse.ArgumentParser(
        prog=f"python -m toolkit {ns.action} {ns.topic}",
        description=help_text,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add_arguments(sub)
    sub.add_argument(
        "--state",
        default=None,
        metavar="STRING",
        help="start from a notebook panel's setup (the string panel.state() shows); "
        "explicit options given here override it",
    )
    rest = argv[2:]
    state = _peek_state(rest)
    if state is not None:
        _apply_state(sub, state, ns.topic)
    args = sub.parse_args(rest)
    try:
        if getattr(args, "seed", None) is not None:  # seed before the topic builds anything (data, model)
            from .training import seed_everything

            seed_everything(args.seed)
        return int(run(args) or 0)
    except (ValueError, TypeError) as exc:  # bad input: say what is wrong, no traceback
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _peek_state(argv: list[str]) -> str | None:
    for i, arg in enumerate(argv):
        if arg == "--state" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--state="):
            return arg.split("=", 1)[1]
    return None


def _apply_state(parser: argparse.ArgumentParser, state: str, topic: str) -> None:
    """Use a panel state string as defaults for the options of the same names.

    Only the named panel's own controls (``toolkit.panels.CLI_PANELS``) may be set: a state string
    is text anyone can write, and must not reach options such as ``--out`` or ``--storage``.
    """
    from .panels import CLI_PANELS, decode_state

    key = state.rpartition(":")[0]
    if not key.startswith(topic):
        parser.error(f"--state is for panel {key!r}, not for topic {topic!r}")
    if key not in CLI_PANELS:
        parser.error(
            f"--state from panel {key!r} cannot start a command; "
            f"panels that can: {sorted(k for k in CLI_PANELS if k.startswith(topic))}"
        )
    try:
        values = decode_state(state)
    except ValueError as exc:
        parser.error(str(exc))
    allowed = set(CLI_PANELS[key])
    dests = {a.dest for a in parser._actions}
    unknown = sorted(set(values) - (allowed & dests), key=str)
    if unknown:
        parser.error(
            f"--state sets {unknown}, which are not controls of panel {key!r} that this command has "
            f"options for; it may set: {sorted(allowed & dests)}"
        )
    for action in parser._actions:
        if action.dest not in values or action.choices is None:
            continue
        value = values[action.dest]
        items = value if isinstance(value, list) and action.nargs not in (None, "?") else [value]
        bad = [v for v in items if v not in action.choices]
        if bad:
            parser.error(f"--state sets {action.dest}={value!r}; choose from {list(action.choices)}")
    parser.set_defaults(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


if __name__ == "__main__":
    raise SystemExit(main())
