"""Remote analyzers: vision-language models reached over the network."""

from scopix.server.vision.remote.openai_compat import (
    PROMPT_VERSION,
    OpenAICompatibleAnalyzer,
    VLMAnswer,
    parse_answer,
)

__all__ = [
    "PROMPT_VERSION",
    "OpenAICompatibleAnalyzer",
    "VLMAnswer",
    "parse_answer",
]
