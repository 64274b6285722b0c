"""Readings streamed by bench capture agents: agents, their tokens, ingestion, stored readings."""
