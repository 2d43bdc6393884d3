"""The diffusion topic's declaration, read by toolkit.topics.discover_topics (import nothing heavy here)."""

from toolkit.topics import Topic

TOPIC = Topic(
    name="diffusion",
    description="gradients of log-density: score-based diffusion for weather",
    cli="toolkit.diffusion.cli",
    study="diffusion-nfe",
    experiments={"diffusion-nfe": "toolkit.diffusion.sweep:experiment"},
    order=3,
)
