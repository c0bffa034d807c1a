"""Video front-end: decoding, face and lip processing, caches (issue: video front-end)."""
