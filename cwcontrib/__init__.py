"""cwcontrib: contribution and validation system for the CrossedWires living dataset."""

__version__ = "0.1.0"

__all__ = ["__version__", "load_catalog", "load_model"]


def __getattr__(name: str) -> object:
    # The dataset-user API, imported on first use: `import cwcontrib` stays free of pandas and the frameworks.
    if name in ("load_catalog", "load_model"):
        from cwcontrib.catalog import api

        return getattr(api, name)
    raise AttributeError(f"module 'cwcontrib' has no attribute {name!r}")
