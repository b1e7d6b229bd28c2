"""Complete networks and their training recipes."""
