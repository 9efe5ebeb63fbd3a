"""Readers: files -> tidy rows. No scoring happens here."""
