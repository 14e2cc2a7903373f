"""The service: each operation as one function over the policy and the adapters, the inputs and the
resources callers see, idempotent submission, and the notifier's work on the requests table's stream."""
