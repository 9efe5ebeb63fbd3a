"""Bundled data files (see PROVENANCE.json)."""
