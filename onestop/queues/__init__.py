"""Clerk work queues: read-side queries, per-tab counts, taking and distributing work."""
