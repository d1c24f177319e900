"""Pacing one key's requests to Jina's rate limits: what an answer says (`signals`), and what to do about it."""
