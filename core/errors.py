"""Errors users can act on: each names the bad input and the fix."""


class DashboardError(Exception):
    """Base class for the project's own expected failures (pages show these with st.error)."""


class ModelLoadError(DashboardError):
    """A model could not be loaded (offline hub, unknown id, out of memory, bad path)."""


class IngestError(DashboardError):
    """A file or upload could not be read."""


class EndpointError(DashboardError):
    """An embedding endpoint failed or answered something unusable."""


class StoreError(DashboardError):
    """The on-disk embedding store could not be read or written (e.g. disk full)."""


class SearchError(DashboardError):
    """A search or index operation got invalid arguments."""
