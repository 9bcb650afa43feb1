# Thresholds and approver settings used by every tool policy: change them here only.
package firewall.settings

import rego.v1

# Refunds up to this amount run without a human.
refund_auto_approve_limit := 100

# Refunds above this amount need two approvers.
refund_two_approver_threshold := 5000

# Refunds above this amount are never issued by an agent.
refund_hard_cap := 10000

# The running total (a [[totals]] entry in firewall.toml, counted by the order's id)
# of what is already refunded or reserved per order: refunds stop at the order amount.
refund_order_total := "refunded_per_order"

# The approver group asked to decide held calls.
approver_group := "supervisors"

# How long a held call waits for a decision, in seconds.
hold_ttl_s := 900
