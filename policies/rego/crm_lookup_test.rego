package firewall_test.crm_lookup

import rego.v1

import data.firewall

test_same_tenant_customer_is_allowed if {
	d := firewall.decision with input.tool as {"name": "crm_lookup"}
		with input.args as {"customer_id": "c1"}
		with input.principal as {"tenant": "t1"}
		with input.context as {"facts": {"customer": {"id": "c1", "tenant": "t1"}}}
	d == {"outcome": "allow", "reasons": [], "obligations": {}}
}

test_other_tenant_customer_is_denied if {
	d := firewall.decision with input.tool as {"name": "crm_lookup"}
		with input.args as {"customer_id": "c1"}
		with input.principal as {"tenant": "t1"}
		with input.context as {"facts": {"customer": {"id": "c1", "tenant": "t2"}}}
	d.outcome == "deny"
	d.reasons == ["customer 'c1' belongs to another tenant; look up only your own tenant's customers"]
}

test_null_customer_is_denied_as_unknown if {
	d := firewall.decision with input.tool as {"name": "crm_lookup"}
		with input.args as {"customer_id": "c404"}
		with input.principal as {"tenant": "t1"}
		with input.context as {"facts": {"customer": null}}
	d.outcome == "deny"
	d.reasons == ["unknown customer: no customer matches this lookup; check the customer id"]
}

test_absent_customer_fact_is_denied_as_unknown if {
	d := firewall.decision with input.tool as {"name": "crm_lookup"}
		with input.args as {"customer_id": "c404"}
		with input.principal as {"tenant": "t1"}
		with input.context as {"facts": {}}
	d.outcome == "deny"
	d.reasons == ["unknown customer: no customer matches this lookup; check the customer id"]
}

test_missing_principal_tenant_is_denied if {
	d := firewall.decision with input.tool as {"name": "crm_lookup"}
		with input.args as {"customer_id": "c1"}
		with input.principal as {"agent_id": "a1"}
		with input.context as {"facts": {"customer": {"id": "c1", "tenant": "t1"}}}
	d.outcome == "deny"
}
