"""Every command-line default equals the default of the config it feeds (toolkit.cliopts), and the
shared CLI helpers (config_option, torch_threads, format_table) do what they say."""

from __future__ import annotations

import argparse
import dataclasses
import importlib

import pytest
import torch

from toolkit.cliopts import config_default, config_option, format_table, torch_threads
from toolkit.topics import discover_topics

# CLI defaults that differ from the library's on purpose (the test fails if one of them starts to agree, so
# the list cannot go stale): (topic, action, dest) -> why
KNOWN_DIFFERENCES = {
    ("diffusion", "train", "regression_steps"): "the CLI trains 400 steps, train_downscaler defaults to 600",
    ("diffusion", "train", "diffusion_steps"): "the CLI trains 1300 steps, train_downscaler defaults to 1500",
}
# options that feed a field under another name or encoding: (topic, action, dest) -> (source, field, to_field)
TRANSLATED = {
    ("feedback", "train", "bits"): ("toolkit.feedback.train:TrainConfig", "error_bits", lambda v: v or None),
    ("feedback", "train", "rescale"): ("toolkit.feedback.train:TrainConfig", "sparsity_rescale", bool),
    ("diffusion", "train", "no_lead_time"): (
        "toolkit.diffusion.model:downscaler_config",
        "lead_time",
        lambda v: not v,
    ),
}


def _load(path: str):
    module, name = path.split(":")
    return getattr(importlib.import_module(module), name)


def _parsers():
    for name, topic in discover_topics().items():
        for action, (_help, add_arguments, _run) in importlib.import_module(topic.cli).ACTIONS.items():
            parser = argparse.ArgumentParser()
            add_arguments(parser)
            yield name, action, parser


def _plain(value):
    return list(value) if isinstance(value, (tuple, list)) else value


PARSERS = list(_parsers())


def _sources(topic):
    """Every config a topic's command line reads defaults from (any of its actions)."""
    return {
        a.config_source[0]
        for t, _, parser in PARSERS
        if t == topic
        for a in parser._actions
        if hasattr(a, "config_source")
    }


@pytest.mark.parametrize("topic", sorted(discover_topics()))
def test_each_topic_generates_its_options_from_its_configs(topic):
    generated = [
        a for t, _, parser in PARSERS if t == topic for a in parser._actions if hasattr(a, "config_source")
    ]
    assert len(generated) >= 5, [a.dest for a in generated]


@pytest.mark.parametrize("topic, action, parser", PARSERS, ids=[f"{t}-{a}" for t, a, _ in PARSERS])
def test_every_cli_default_equals_its_config_default(topic, action, parser):
    for a in parser._actions:
        key = (topic, action, a.dest)
        if hasattr(a, "config_source"):
            assert _plain(a.default) == _plain(config_default(*a.config_source)), a.dest
        elif key in TRANSLATED:
            source, field, to_field = TRANSLATED[key]
            assert to_field(a.default) == config_default(_load(source), field), a.dest
        else:  # a hand-written option with the name of a config field must agree with it (or be listed)
            for source in _sources(topic):
                try:
                    library = config_default(source, a.dest)
                except ValueError:
                    continue
                same = _plain(a.default) == _plain(library)
                assert same != (key in KNOWN_DIFFERENCES), (
                    f"--{a.dest}: CLI default {a.default!r}, {source} says {library!r}"
                    if not same
                    else f"{key} agrees now: drop it from KNOWN_DIFFERENCES"
                )


def test_known_differences_name_real_options_that_really_differ():
    dests = {(t, a, act.dest): act.default for t, a, parser in PARSERS for act in parser._actions}
    assert set(KNOWN_DIFFERENCES) <= set(dests) and set(TRANSLATED) <= set(dests)
    for topic, action, dest in KNOWN_DIFFERENCES:
        library = []
        for source in _sources(topic):
            try:
                library.append(config_default(source, dest))
            except ValueError:
                pass
        assert library and all(v != dests[topic, action, dest] for v in library), (topic, action, dest)


def test_config_option_reads_types_and_defaults():
    @dataclasses.dataclass
    class Config:
        lr: float = 0.01
        steps: int = 5
        exact: bool = True
        sizes: tuple = (3, 4)
        decay: float | None = None

    parser = argparse.ArgumentParser()
    for name in ("lr", "steps", "exact", "sizes"):
        config_option(parser, Config, name)
    config_option(parser, Config, "decay", type=float)
    args = parser.parse_args([])
    assert (args.lr, args.steps, args.exact, args.sizes, args.decay) == (0.01, 5, True, [3, 4], None)
    args = parser.parse_args(
        ["--lr", "0.5", "--steps", "7", "--no-exact", "--sizes", "1", "2", "--decay", "1e-3"]
    )
    assert (args.lr, args.steps, args.exact, args.sizes, args.decay) == (0.5, 7, False, [1, 2], 1e-3)

    def train(data, *, rate=0.1):
        return data

    config_option(parser, train, "rate", flag="--learning-rate", dest="learning_rate")
    assert parser.parse_args([]).learning_rate == 0.1
    with pytest.raises(ValueError, match="^name must be"):
        config_option(parser, Config, "missing")
    with pytest.raises(ValueError, match="^name must be"):
        config_option(parser, train, "data")  # no default
    with pytest.raises(TypeError, match="default"):
        config_option(parser, Config, "lr", default=1.0)  # the default is the config's, never restated
    with pytest.raises(TypeError, match="^parser must"):
        config_option(None, Config, "lr")
    with pytest.raises(TypeError, match="^source must"):
        config_default(3, "lr")


def test_torch_threads_sets_and_restores():
    before = torch.get_num_threads()
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with torch_threads(0):  # 0: torch's own choice, untouched
        assert torch.get_num_threads() == before
    with pytest.raises(ValueError, match="^n must"):
        with torch_threads(-1):
            pass


def test_format_table():
    text = format_table([{"model": "a", "purity": 0.5}, {"model": "bb", "purity": 0.25, "x": 1}])
    assert text.splitlines() == ["model  purity", "-------------", "    a  0.5000", "   bb  0.2500"]
    assert format_table([{"a": 1.0}], ["a", "b"], digits=1).splitlines()[-1] == "1.0  None"
    with pytest.raises(TypeError, match="^rows must"):
        format_table({"a": 1})
    with pytest.raises(ValueError, match="^digits must"):
        format_table([], digits=-1)
