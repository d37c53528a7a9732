"""Importers: turn results recorded elsewhere (experiment-tracker exports) into results-only submissions."""
