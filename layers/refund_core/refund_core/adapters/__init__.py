"""The service's side of AWS: settings, clients, the one data-access layer (every table key and condition),
and the outbound calls (SES, EventBridge, the review-deadline workflow). Knows the policy's models, never
its rules."""
