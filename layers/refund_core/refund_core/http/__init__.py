"""API Gateway's side: the caller's identity from the authorizer's claims, and the resolver every API
function shares (what is checked before a body is parsed, and the one mapping of errors to HTTP)."""
