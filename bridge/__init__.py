"""QuantBot Research Bridge: immutable Parquet artifacts with lineage, DuckDB projections,
and a JSON-RPC daemon for TypeScript research code.

Heavy libraries (pyarrow, DuckDB, pandas, chDB) are imported only where a function needs them,
so `python -m bridge serve` answers `initialize` fast.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
