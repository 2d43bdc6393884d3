"""The feedback topic's declaration, read by toolkit.topics.discover_topics (import nothing heavy here)."""

from toolkit.topics import Topic

TOPIC = Topic(
    name="feedback",
    description="gradients through a random feedback channel (random backprop)",
    cli="toolkit.feedback.cli",
    study="feedback-rules",
    experiments={"feedback-rules": "toolkit.feedback.sweep:experiment"},
    order=2,
)
