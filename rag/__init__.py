"""newsqa: answer questions about news articles with cited passages, fully local.

Example:
    >>> from rag import Assistant
    >>> a = Assistant.from_config()
    >>> a.ingest(["seeds/"])
    >>> print(a.ask("Why did Ukraine want Patriot systems?").text)
"""

from rag.assistant import Assistant
from rag.config import Settings
from rag.errors import EmptyStoreError, ModelError, RagError, StoreLockedError
from rag.types import (
    Answer,
    ArticleInfo,
    AskOptions,
    Changes,
    Citation,
    Disagreement,
    EventSource,
    FreshnessNote,
    Hit,
    IngestReport,
    Report,
    Timeline,
    TimelineEvent,
    Token,
)

__all__ = [
    "Answer",
    "ArticleInfo",
    "AskOptions",
    "Assistant",
    "Changes",
    "Citation",
    "Disagreement",
    "EmptyStoreError",
    "EventSource",
    "FreshnessNote",
    "Hit",
    "IngestReport",
    "ModelError",
    "RagError",
    "Report",
    "Settings",
    "StoreLockedError",
    "Timeline",
    "TimelineEvent",
    "Token",
]
