"""The catalog: what `cwcontrib index` derives from accepted submissions and verification records.

`columns` defines the tables, `extract` turns one validated submission into rows, `verification` reads and
writes verification records, `index` builds `catalog/` (deterministic, atomic, incremental), `croissant`
describes it as Croissant metadata, `api` is what dataset users call (`load_catalog`, `load_model`), `fetch`
downloads release assets with checksums, and `cli` holds the `index` and `catalog` commands.
"""
