"""The policy simulations' queue: each message a simulation's job to run on from the day it was kept at
(refund_core.app.policy_simulations)."""

from refund_core.app.jobs import queue_handler
from refund_core.app.policy_simulations import handle_simulation_record

lambda_handler = queue_handler(handle_simulation_record)
