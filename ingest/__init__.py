"""Parsers and the ingest command: collection files in, papers out."""
