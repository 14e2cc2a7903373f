"""Local runner (refund-local): the Lambda handlers with AWS emulated in-process by moto."""
