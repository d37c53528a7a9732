"""cwcontrib: contribution and validation system for the CrossedWires living dataset."""

__version__ = "0.1.0"
