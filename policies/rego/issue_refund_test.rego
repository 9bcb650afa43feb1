package firewall_test.issue_refund

import rego.v1

import data.firewall

none_refunded := {"refunded_per_order": {"cents": 0, "amount": 0, "calls": 0}}

order_o1 := {"id": "o1", "tenant": "t1", "amount": 80, "customer_id": "c1"}

refunded_4950 := {"refunded_per_order": {"cents": 4950, "amount": 49.5, "calls": 1}}

refunded_8000 := {"refunded_per_order": {"cents": 8000, "amount": 80, "calls": 1}}

test_refund_within_auto_limit_is_allowed if {
	d := firewall.decision with input.tool as {"name": "issue_refund"}
		with input.args as {"order_id": "o1", "amount": 100, "reason": "damaged"}
		with input.principal as {"tenant": "t1", "on_behalf_of": "customer:c1"}
		with input.context as {"facts": {"order": {"id": "o1", "tenant": "t1", "amount": 8000, "customer_id": "c1"}}, "totals": none_refunded}
	d == {"outcome": "allow", "reasons": [], "obligations": {}}
}

test_refund_above_auto_limit_is_held_for_one_supervisor if {
	d := firewall.decision with input.tool as {"name": "issue_refund"}
		with input.args as {"order_id": "o1", "amount": 100.5, "reason": "damaged"}
		with input.principal as {"tenant": "t1", "on_behalf_of": "customer:c1"}
		with input.context as {"facts": {"order": {"id": "o1", "tenant": "t1", "amount": 8000, "customer_id": "c1"}}, "totals": none_refunded}
	d.outcome == "hold"
	d.reasons == ["refund of 100.5 is above the auto-approve limit of 100; a supervisor must approve it"]
	d.obligations == {"approvers": "supervisors", "quorum": 1, "ttl_s": 900}
}

test_refund_at_two_approver_threshold_needs_one_approver if {
	d := firewall.decision with input.tool as {"name": "issue_refund"}
		with input.args as {"order_id": "o1", "amount": 5000, "reason": "damaged"}
		with input.principal as {"tenant": "t1", "on_behalf_of": "customer:c1"}
		with input.context as {"facts": {"order": {"id": "o1", "tenant": "t1", "amount": 8000, "customer_id": "c1"}}, "totals": none_refunded}
	d.outcome == "hold"
	d.obligations.quorum == 1
}

test_refund_above_two_approver_threshold_needs_two_approvers if {
	d := firewall.decision with input.tool as {"name": "issue_refund"}
		with input.args as {"order_id": "o1", "amount": 6000, "reason": "damaged"}
		with input.principal as {"tenant": "t1", "on_behalf_of": "customer:c1"}
		with input.context as {"facts": {"order": {"id": "o1", "tenant": "t1", "amount": 8000, "customer_id": "c1"}}, "totals": none_refunded}
	d.outcome == "hold"
	d.obligations == {"approvers": "supervisors", "quorum": 2, "ttl_s": 900}
	d.reasons == [
		"refund of 6000 is above the auto-approve limit of 100; a supervisor must approve it",
		"refunds above 5000 need two supervisors to approve",
	]
}

test_refund_of_unknown_order_is_denied if {
	d := firewall.decision with input.tool as {"name": "issue_refund"}
		with input.args as {"order_id": "o404", "amount": 10, "reason": "damaged"}
		with input.principal as {"tenant": "t1", "on_behalf_of": "customer:c1"}
		with input.context as {"facts": {"order": null}, "totals": none_refunded}
	d.outcome == "deny"
	d.reasons == ["unknown order 'o404'; refund only an existing order"]
}

test_refund_of_other_tenants_order_is_denied if {
	d := firewall.decision with input.tool as {"name": "issue_refund"}
		with input.args as {"order_id": "o1", "amount": 10, "reason": "damaged"}
		with input.principal as {"tenant": "t1", "on_behalf_of": "customer:c1"}
		with input.context as {"facts": {"order": {"id": "o1", "tenant": "t2", "amount": 8000, "customer_id": "c1"}}, "totals": none_refunded}
	d.outcome == "deny"
	d.reasons == ["order 'o1' belongs to another tenant; refund only your own tenant's orders"]
}

test_zero_refund_is_denied if {
	d := firewall.decision with input.tool as {"name": "issue_refund"}
		with input.args as {"order_id": "o1", "amount": 0, "reason": "damaged"}
		with input.principal as {"tenant": "t1", "on_behalf_of": "customer:c1"}
		with input.context as {"facts": {"order": {"id": "o1", "tenant": "t1", "amount": 8000, "customer_id": "c1"}}, "totals": none_refunded}
	d.outcome == "deny"
	d.reasons == ["refund amount must be positive, got 0"]
}

test_non_numeric_refund_is_denied if {
	d := firewall.decision with input.tool as {"name": "issue_refund"}
		with input.args as {"order_id": "o1", "amount": "50", "reason": "damaged"}
		with input.principal as {"tenant": "t1", "on_behalf_of": "customer:c1"}
		with input.context as {"facts": {"order": {"id": "o1", "tenant": "t1", "amount": 8000, "customer_id": "c1"}}, "totals": none_refunded}
	d.outcome == "deny"
	d.reasons == ["refund amount must be a number"]
}

test_refund_above_order_amount_is_denied if {
	d := firewall.decision with input.tool as {"name": "issue_refund"}
		with input.args as {"order_id": "o1", "amount": 60, "reason": "damaged"}
		with input.principal as {"tenant": "t1", "on_behalf_of": "customer:c1"}
		with input.context as {"facts": {"order": {"id": "o1", "tenant": "t1", "amount": 50, "customer_id": "c1"}}, "totals": none_refunded}
	d.outcome == "deny"
	d.reasons == ["refund exceeds the order amount (60 > 50)"]
}

test_refund_above_hard_cap_is_denied if {
	d := firewall.decision with input.tool as {"name": "issue_refund"}
		with input.args as {"order_id": "o1", "amount": 10001, "reason": "damaged"}
		with input.principal as {"tenant": "t1", "on_behalf_of": "customer:c1"}
		with input.context as {"facts": {"order": {"id": "o1", "tenant": "t1", "amount": 20000, "customer_id": "c1"}}, "totals": none_refunded}
	d.outcome == "deny"
	d.reasons == ["refund of 10001 exceeds the hard cap of 10000; escalate to a human"]
}

test_every_deny_reason_is_reported if {
	d := firewall.decision with input.tool as {"name": "issue_refund"}
		with input.args as {"order_id": "o1", "amount": 12000, "reason": "damaged"}
		with input.principal as {"tenant": "t1", "on_behalf_of": "customer:c1"}
		with input.context as {"facts": {"order": {"id": "o1", "tenant": "t1", "amount": 50, "customer_id": "c1"}}, "totals": none_refunded}
	d.outcome == "deny"
	d.reasons == [
		"refund exceeds the order amount (12000 > 50)",
		"refund of 12000 exceeds the hard cap of 10000; escalate to a human",
	]
}

test_other_tenants_order_amount_is_not_disclosed if {
	d := firewall.decision with input.tool as {"name": "issue_refund"}
		with input.args as {"order_id": "o1", "amount": 60, "reason": "damaged"}
		with input.principal as {"tenant": "t1", "on_behalf_of": "customer:c1"}
		with input.context as {"facts": {"order": {"id": "o1", "tenant": "t2", "amount": 50, "customer_id": "c1"}}, "totals": none_refunded}
	d.reasons == ["order 'o1' belongs to another tenant; refund only your own tenant's orders"]
}

test_refund_of_what_remains_of_the_order_is_allowed if {
	d := firewall.decision with input.tool as {"name": "issue_refund"}
		with input.args as {"order_id": "o1", "amount": 30.5, "reason": "damaged"}
		with input.principal as {"tenant": "t1", "on_behalf_of": "customer:c1"}
		with input.context as {"facts": {"order": order_o1}, "totals": refunded_4950}
	d.outcome == "allow"
}

test_refund_beyond_what_remains_is_denied_as_exceeds_remaining if {
	d := firewall.decision with input.tool as {"name": "issue_refund"}
		with input.args as {"order_id": "o1", "amount": 80, "reason": "damaged"}
		with input.principal as {"tenant": "t1", "on_behalf_of": "customer:c1"}
		with input.context as {"facts": {"order": order_o1}, "totals": refunded_8000}
	d.outcome == "deny"
	d.reasons == ["exceeds_remaining: refund of 80 exceeds what remains of order 'o1' (0 of 80; 80 already refunded or awaiting approval)"]
}

test_one_cent_beyond_what_remains_is_denied if {
	d := firewall.decision with input.tool as {"name": "issue_refund"}
		with input.args as {"order_id": "o1", "amount": 30.51, "reason": "damaged"}
		with input.principal as {"tenant": "t1", "on_behalf_of": "customer:c1"}
		with input.context as {"facts": {"order": order_o1}, "totals": refunded_4950}
	d.outcome == "deny"
	startswith(d.reasons[0], "exceeds_remaining: ")
}

test_refund_without_a_refunded_total_is_denied if {
	d := firewall.decision with input.tool as {"name": "issue_refund"}
		with input.args as {"order_id": "o1", "amount": 10, "reason": "damaged"}
		with input.principal as {"tenant": "t1", "on_behalf_of": "customer:c1"}
		with input.context as {"facts": {"order": order_o1}, "totals": {}}
	d.outcome == "deny"
	d.reasons == ["the firewall keeps no refunded total for order 'o1' (total 'refunded_per_order'); refunds are refused until it does"]
}

test_refund_of_another_customers_order_is_denied_as_wrong_customer if {
	d := firewall.decision with input.tool as {"name": "issue_refund"}
		with input.args as {"order_id": "o1", "amount": 10, "reason": "damaged"}
		with input.principal as {"tenant": "t1", "on_behalf_of": "customer:c2"}
		with input.context as {"facts": {"order": order_o1}, "totals": none_refunded}
	d.outcome == "deny"
	d.reasons == ["wrong_customer: order 'o1' is not an order of the customer this session acts for; refund only their orders"]
}

test_a_bare_customer_id_as_on_behalf_of_is_compared_too if {
	d := firewall.decision with input.tool as {"name": "issue_refund"}
		with input.args as {"order_id": "o1", "amount": 10, "reason": "damaged"}
		with input.principal as {"tenant": "t1", "on_behalf_of": "c2"}
		with input.context as {"facts": {"order": order_o1}, "totals": none_refunded}
	d.outcome == "deny"
	startswith(d.reasons[0], "wrong_customer: ")
}

test_refund_in_a_session_acting_for_no_customer_is_held if {
	d := firewall.decision with input.tool as {"name": "issue_refund"}
		with input.args as {"order_id": "o1", "amount": 10, "reason": "damaged"}
		with input.principal as {"tenant": "t1"}
		with input.context as {"facts": {"order": order_o1}, "totals": none_refunded}
	d.outcome == "hold"
	d.reasons == ["this session acts for no customer; a supervisor must confirm refunding order 'o1'"]
}

test_wrong_customer_of_another_tenants_order_discloses_only_the_tenant if {
	d := firewall.decision with input.tool as {"name": "issue_refund"}
		with input.args as {"order_id": "o1", "amount": 10, "reason": "damaged"}
		with input.principal as {"tenant": "t1", "on_behalf_of": "customer:c2"}
		with input.context as {"facts": {"order": {"id": "o1", "tenant": "t2", "amount": 80, "customer_id": "c1"}}, "totals": none_refunded}
	d.reasons == ["order 'o1' belongs to another tenant; refund only your own tenant's orders"]
}
