"""Small functions the generated scripts call at run time (stdlib only)."""
