# Tests of read_ticket.rego (input overridden field by field; see decision_test.rego).
package firewall_test.read_ticket

import rego.v1

import data.firewall

test_own_tenant_ticket_is_allowed if {
	firewall.decision.outcome == "allow" with input.tool as {"name": "read_ticket"}
		with input.args as {"ticket_id": "t-7"}
		with input.principal as {"tenant": "acme"}
		with input.context as {"facts": {"ticket": {"id": "t-7", "tenant": "acme"}}}
}

test_other_tenant_ticket_is_denied if {
	firewall.decision.outcome == "deny" with input.tool as {"name": "read_ticket"}
		with input.args as {"ticket_id": "t-9"}
		with input.principal as {"tenant": "acme"}
		with input.context as {"facts": {"ticket": {"id": "t-9", "tenant": "globex"}}}
}

test_unknown_ticket_is_denied if {
	firewall.decision.outcome == "deny" with input.tool as {"name": "read_ticket"}
		with input.args as {"ticket_id": "t-404"}
		with input.principal as {"tenant": "acme"}
		with input.context as {"facts": {}}
}
