# Unit tests of the decision combiner. regopy 1.5.2 crashes on `with input as <object>`
# when a rule applies a built-in to input, so tests override input field by field.
package firewall_test.decision

import rego.v1

import data.firewall

test_unknown_tool_is_denied_with_its_name if {
	d := firewall.decision with input.tool as {"name": "delete_everything"}
	d.outcome == "deny"
	d.reasons == ["no policy allows tool 'delete_everything'"]
	d.obligations == {}
}

test_missing_tool_name_is_denied if {
	d := firewall.decision with input.args as {}
	d.outcome == "deny"
	d.reasons == ["policy input has no tool name"]
}

test_non_string_tool_name_is_denied if {
	d := firewall.decision with input.tool as {"name": 42}
	d.outcome == "deny"
	d.reasons == ["policy input has no tool name"]
}

test_governed_tool_that_nothing_allows_is_denied if {
	d := firewall.decision with input.tool as {"name": "crm_lookup"}
		with input.principal as {"tenant": "t1"}
		with input.context as {"facts": {"customer": {"id": "c1", "tenant": "t1"}}}
		with data.firewall.allowed_tools as set()
	d.outcome == "deny"
	d.reasons == ["policy for tool 'crm_lookup' allows nothing for this call"]
}

test_deny_beats_hold if {
	d := firewall.decision with input.tool as {"name": "charge_card"}
		with input.args as {"customer_id": "c1", "amount": 10}
		with input.principal as {"tenant": "t1"}
		with input.context as {"facts": {"customer": {"id": "c1", "tenant": "t2"}}}
	d.outcome == "deny"
}

test_hold_obligations_come_from_settings if {
	d := firewall.decision with input.tool as {"name": "charge_card"}
		with input.args as {"customer_id": "c1", "amount": 10}
		with input.principal as {"tenant": "t1"}
		with input.context as {"facts": {"customer": {"id": "c1", "tenant": "t1"}}}
		with data.firewall.settings.approver_group as "finance"
		with data.firewall.settings.hold_ttl_s as 60
	d.obligations == {"approvers": "finance", "quorum": 1, "ttl_s": 60}
}
