# issue_refund: refund (part of) an order of the caller's tenant and of the customer the
# session acts for, within limits, never beyond what remains of the order.
package firewall

import rego.v1

import data.firewall.settings

governed_tools contains "issue_refund"

refund_order := input.context.facts.order if tool_name == "issue_refund"

# Amount checks use only the caller's own order, so no reason discloses another
# tenant's order amount.
own_order := refund_order if refund_order.tenant == input.principal.tenant

refund_amount := input.args.amount if {
	tool_name == "issue_refund"
	is_number(input.args.amount)
}

deny contains sprintf("unknown order '%v'; refund only an existing order", [input.args.order_id]) if {
	tool_name == "issue_refund"
	not is_object(refund_order)
}

deny contains sprintf("order '%v' belongs to another tenant; refund only your own tenant's orders", [refund_order.id]) if {
	refund_order.tenant != input.principal.tenant
}

# What the firewall counts as refunded on this order so far (reserved or spent), in cents:
# trusted input kept across calls, agents, sessions and workers, never the agent's word.
refunded_cents := input.context.totals[settings.refund_order_total].cents if tool_name == "issue_refund"

refund_cents := round(refund_amount * 100)

order_cents := round(own_order.amount * 100)

remaining_cents := order_cents - refunded_cents

deny contains sprintf("the firewall keeps no refunded total for order '%v' (total '%v'); refunds are refused until it does", [input.args.order_id, settings.refund_order_total]) if {
	tool_name == "issue_refund"
	is_object(refund_order)
	not is_number(refunded_cents)
}

deny contains sprintf("exceeds_remaining: refund of %v exceeds what remains of order '%v' (%v of %v; %v already refunded or awaiting approval)", [refund_amount, own_order.id, remaining_cents / 100, own_order.amount, refunded_cents / 100]) if {
	refund_amount <= own_order.amount
	refund_cents > remaining_cents
}

# The customer the session acts for ("customer:<id>" or "<id>").
session_customer := trim_prefix(input.principal.on_behalf_of, "customer:")

deny contains sprintf("wrong_customer: order '%v' is not an order of the customer this session acts for; refund only their orders", [own_order.id]) if {
	is_string(session_customer)
	own_order.customer_id != session_customer
}

hold contains sprintf("this session acts for no customer; a supervisor must confirm refunding order '%v'", [own_order.id]) if {
	tool_name == "issue_refund"
	not is_string(input.principal.on_behalf_of)
}

deny contains "refund amount must be a number" if {
	tool_name == "issue_refund"
	not is_number(input.args.amount)
}

deny contains sprintf("refund amount must be positive, got %v", [refund_amount]) if {
	refund_amount <= 0
}

deny contains sprintf("refund exceeds the order amount (%v > %v)", [refund_amount, own_order.amount]) if {
	refund_amount > own_order.amount
}

deny contains sprintf("refund of %v exceeds the hard cap of %v; escalate to a human", [refund_amount, settings.refund_hard_cap]) if {
	refund_amount > settings.refund_hard_cap
}

hold contains sprintf("refund of %v is above the auto-approve limit of %v; a supervisor must approve it", [refund_amount, settings.refund_auto_approve_limit]) if {
	refund_amount > settings.refund_auto_approve_limit
}

hold contains sprintf("refunds above %v need two supervisors to approve", [settings.refund_two_approver_threshold]) if {
	refund_amount > settings.refund_two_approver_threshold
}

hold_quorum contains 2 if {
	refund_amount > settings.refund_two_approver_threshold
}

allowed_tools contains "issue_refund" if {
	refund_amount > 0
	refund_amount <= own_order.amount
	refund_amount <= settings.refund_auto_approve_limit
}
