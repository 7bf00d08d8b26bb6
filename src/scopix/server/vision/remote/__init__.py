"""Remote analyzers: vision-language models reached over the network."""

from scopix.server.vision.remote.openai_compat import (
    PROMPT_VERSION,
    OpenAICompatibleAnalyzer,
    VLMAnswer,
    parse_answer,
    parse_retry_after,
)

__all__ = [
    "PROMPT_VERSION",
    "OpenAICompatibleAnalyzer",
    "VLMAnswer",
    "parse_answer",
    "parse_retry_after",
]
