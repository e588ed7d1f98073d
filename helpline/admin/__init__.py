"""Admin pages: the category taxonomy the inbox offers at wrap-up."""
