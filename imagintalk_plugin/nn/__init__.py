"""Network code, one model family per module; imports only core and torch."""
