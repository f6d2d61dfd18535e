"""Use cases: one method per operator action, each a unit of work."""
