"""Errors whose message is shown to users as it is."""


class RagError(Exception):
    """Base class; the message is shown to users."""


class ConfigError(RagError):
    """A config file is missing or invalid."""


class EmptyStoreError(RagError):
    """ask() before anything was ingested."""

    def __init__(self) -> None:
        super().__init__("The store is empty: ingest articles first, e.g. `rag ingest seeds/`.")


class ModelError(RagError):
    """A model could not be assembled, loaded or reached."""


class ModelBusyError(ModelError):
    """The model is serving other requests; try again shortly."""


class StoreLockedError(RagError):
    """Another process is writing to the same local store."""


class InvalidQuestionError(RagError):
    """The question is empty or too long."""


class StoreUnavailableError(RagError):
    """The Chroma server named by ``store.url`` cannot be reached or refused a request."""


class StoreBusyError(RagError):
    """Chroma could not get a database connection in time, even after retrying.

    As after the process was paused; what was half written is repaired by running it again.
    """
