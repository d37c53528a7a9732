"""`catalog/croissant.json`: the catalog as MLCommons Croissant 1.1 metadata (JSON-LD).

One FileObject per Parquet table (with its sha256), one RecordSet per table, one Field per column whose
source extracts that column; names, descriptions and data types come from the same column definitions as the
Parquet schemas, so the metadata cannot drift from the files.
"""

from __future__ import annotations

import json
from typing import Any

from cwcontrib.catalog.columns import TABLES, TYPES, TableSpec

CROISSANT_VERSION = "http://mlcommons.org/croissant/1.1"
PROJECT_URL = "https://github.com/crossedwires/cwcontrib"
CITATION = ("Zvyagin, Brettin, Ramanathan, Jha. CrossedWires: A Dataset of Syntactically Equivalent but "
            "Semantically Disparate Deep Learning Models. arXiv:2108.12768, 2021.")

# The standard JSON-LD context of Croissant documents (the one the specification's examples use).
CONTEXT: dict[str, Any] = {
    "@language": "en",
    "@vocab": "https://schema.org/",
    "citeAs": "cr:citeAs",
    "column": "cr:column",
    "conformsTo": "dct:conformsTo",
    "cr": "http://mlcommons.org/croissant/",
    "rai": "http://mlcommons.org/croissant/RAI/",
    "data": {"@id": "cr:data", "@type": "@json"},
    "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
    "dct": "http://purl.org/dc/terms/",
    "equivalentProperty": "cr:equivalentProperty",
    "examples": {"@id": "cr:examples", "@type": "@json"},
    "extract": "cr:extract",
    "field": "cr:field",
    "fileProperty": "cr:fileProperty",
    "fileObject": "cr:fileObject",
    "fileSet": "cr:fileSet",
    "format": "cr:format",
    "includes": "cr:includes",
    "isLiveDataset": "cr:isLiveDataset",
    "jsonPath": "cr:jsonPath",
    "key": "cr:key",
    "md5": "cr:md5",
    "parentField": "cr:parentField",
    "path": "cr:path",
    "recordSet": "cr:recordSet",
    "references": "cr:references",
    "regex": "cr:regex",
    "repeated": "cr:repeated",
    "replace": "cr:replace",
    "samplingRate": "cr:samplingRate",
    "sc": "https://schema.org/",
    "separator": "cr:separator",
    "source": "cr:source",
    "subField": "cr:subField",
    "transform": "cr:transform",
}


def _file_object(spec: TableSpec, sha256: str) -> dict[str, Any]:
    return {
        "@type": "cr:FileObject",
        "@id": spec.file,
        "name": spec.file,
        "description": f"The {spec.name} table (Parquet). {spec.description}",
        "contentUrl": spec.file,
        "encodingFormat": "application/x-parquet",
        "sha256": sha256,
    }


def _record_set(spec: TableSpec) -> dict[str, Any]:
    return {
        "@type": "cr:RecordSet",
        "@id": spec.name,
        "name": spec.name,
        "description": spec.description,
        "key": {"@id": f"{spec.name}/{spec.key}"},
        "field": [{
            "@type": "cr:Field",
            "@id": f"{spec.name}/{column.name}",
            "name": column.name,
            "description": column.description,
            "dataType": TYPES[column.type][1],
            "source": {"fileObject": {"@id": spec.file}, "extract": {"column": column.name}},
        } for column in spec.columns],
    }


def _license_url(expression: str) -> str:
    """SPDX's page for a single license id; a compound expression (`MIT AND CC-BY-4.0`) as written."""
    if all(c.isalnum() or c in ".-+" for c in expression):
        return f"https://spdx.org/licenses/{expression}.html"
    return expression


def croissant(meta: dict[str, Any]) -> dict[str, Any]:
    """The Croissant document of a catalog, from its catalog.json content."""
    tables = meta["tables"]
    return {
        "@context": CONTEXT,
        "@type": "sc:Dataset",
        "conformsTo": CROISSANT_VERSION,
        "name": "CrossedWires",
        "description": (
            "A living dataset of deep-learning models that are syntactically identical but semantically different: "
            "the same architecture, data and hyperparameters trained in PyTorch and in TensorFlow/Keras, with the "
            "accuracy gap of every pair and how far each run is verified. Each submission keeps its own license "
            "(the submissions table's `license` column). Catalog digest " + meta["digest"] + "."),
        "url": PROJECT_URL,
        "license": [_license_url(expression) for expression in meta["licenses"]],
        "citeAs": CITATION,
        "version": meta["version"] if meta["version"] != "unreleased" else "0.0.0",
        "isLiveDataset": True,
        "keywords": ["deep learning", "reproducibility", "PyTorch", "TensorFlow", "Keras", "model pairs"],
        "distribution": [_file_object(TABLES[name], tables[name]["sha256"]) for name in TABLES],
        "recordSet": [_record_set(TABLES[name]) for name in TABLES],
    }


def croissant_bytes(meta: dict[str, Any]) -> bytes:
    return (json.dumps(croissant(meta), indent=2, ensure_ascii=False) + "\n").encode()
