"""The tracking topic's declaration, read by toolkit.topics.discover_topics (import nothing heavy here)."""

from toolkit.topics import Topic

TOPIC = Topic(
    name="tracking",
    description="gradients through a combinatorial solver (particle tracking)",
    cli="toolkit.tracking.cli",
    study="tracking-lambda",
    experiments={"tracking-lambda": "toolkit.tracking.sweep:experiment"},
    order=1,
)
