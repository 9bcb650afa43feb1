package firewall_test.charge_card

import rego.v1

import data.firewall

test_charge_is_always_held_for_a_supervisor if {
	d := firewall.decision with input.tool as {"name": "charge_card"}
		with input.args as {"customer_id": "c1", "amount": 1, "description": "renewal"}
		with input.principal as {"tenant": "t1"}
		with input.context as {"facts": {"customer": {"id": "c1", "tenant": "t1"}}}
	d.outcome == "hold"
	d.reasons == ["card charges always need a supervisor's approval"]
	d.obligations == {"approvers": "supervisors", "quorum": 1, "ttl_s": 900}
}

test_charge_to_other_tenants_customer_is_denied if {
	d := firewall.decision with input.tool as {"name": "charge_card"}
		with input.args as {"customer_id": "c1", "amount": 1, "description": "renewal"}
		with input.principal as {"tenant": "t1"}
		with input.context as {"facts": {"customer": {"id": "c1", "tenant": "t2"}}}
	d.outcome == "deny"
	d.reasons == ["customer 'c1' belongs to another tenant; charge only your own tenant's customers"]
}

test_charge_to_unknown_customer_is_denied if {
	d := firewall.decision with input.tool as {"name": "charge_card"}
		with input.args as {"customer_id": "c404", "amount": 1, "description": "renewal"}
		with input.principal as {"tenant": "t1"}
		with input.context as {"facts": {"customer": null}}
	d.outcome == "deny"
	d.reasons == ["unknown customer: no customer matches this charge; check the customer id"]
}

test_non_positive_charge_is_denied if {
	d := firewall.decision with input.tool as {"name": "charge_card"}
		with input.args as {"customer_id": "c1", "amount": -5, "description": "renewal"}
		with input.principal as {"tenant": "t1"}
		with input.context as {"facts": {"customer": {"id": "c1", "tenant": "t1"}}}
	d.outcome == "deny"
	d.reasons == ["charge amount must be a positive number, got -5"]
}
