"""The refund-request core: the Refund Policy as rules, the review calendar, and the service around them."""
