"""HTTP for the query service: h11 (sans-IO) framing and a thin trio adapter."""
