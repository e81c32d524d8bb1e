"""Stage: results on disk. The journal a sweep appends to, the Parquet table and its metadata, the archive, the lock."""
