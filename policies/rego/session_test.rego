# Tests of session.rego. regopy 1.5.2 crashes on `with input as <object>` (see
# decision_test.rego), so input is overridden field by field.
package firewall.session_test

import rego.v1

import data.firewall

ticket_read_sources := ["read_ticket"]

acme_order := {"id": "o-1", "tenant": "acme", "amount": 80, "customer_id": "c-100"}

none_refunded := {"refunded_per_order": {"cents": 0, "amount": 0, "calls": 0}}

test_small_refund_after_untrusted_content_is_held if {
	firewall.decision.outcome == "hold" with input.tool as {"name": "issue_refund", "money_arg": "amount"}
		with input.args as {"order_id": "o-1", "amount": 20}
		with input.principal as {"tenant": "acme", "agent_id": "bot", "on_behalf_of": "customer:c-100"}
		with input.context as {"facts": {"order": acme_order}, "totals": none_refunded}
		with input.session as {"labels": ["untrusted"], "sources": {"untrusted": ticket_read_sources}, "subjects": {}}
}

test_hold_reason_names_the_untrusted_source if {
	some reason in firewall.decision.reasons with input.tool as {"name": "issue_refund", "money_arg": "amount"}
		with input.args as {"order_id": "o-1", "amount": 20}
		with input.principal as {"tenant": "acme", "agent_id": "bot", "on_behalf_of": "customer:c-100"}
		with input.context as {"facts": {"order": acme_order}, "totals": none_refunded}
		with input.session as {"labels": ["untrusted"], "sources": {"untrusted": ticket_read_sources}, "subjects": {}}
	contains(reason, "read_ticket")
}

test_small_refund_in_a_clean_session_is_allowed if {
	firewall.decision.outcome == "allow" with input.tool as {"name": "issue_refund", "money_arg": "amount"}
		with input.args as {"order_id": "o-1", "amount": 20}
		with input.principal as {"tenant": "acme", "agent_id": "bot", "on_behalf_of": "customer:c-100"}
		with input.context as {"facts": {"order": acme_order}, "totals": none_refunded}
		with input.session as {"labels": [], "sources": {}, "subjects": {}}
}

test_reading_a_second_customer_is_denied if {
	firewall.decision.outcome == "deny" with input.tool as {"name": "crm_lookup", "money_arg": null}
		with input.args as {"customer_id": "c-101"}
		with input.principal as {"tenant": "acme", "agent_id": "bot"}
		with input.context as {"facts": {"customer": {"id": "c-101", "tenant": "acme"}}}
		with input.session as {"sources": {}, "subjects": {"crm_lookup": ["c-100"]}}
}

test_acting_for_a_customer_denies_reading_another if {
	firewall.decision.outcome == "deny" with input.tool as {"name": "crm_lookup", "money_arg": null}
		with input.args as {"customer_id": "c-101"}
		with input.principal as {"tenant": "acme", "agent_id": "bot", "on_behalf_of": "customer:c-100"}
		with input.context as {"facts": {"customer": {"id": "c-101", "tenant": "acme"}}}
		with input.session as {"labels": [], "sources": {}, "subjects": {}}
}

test_rereading_the_same_customer_is_allowed if {
	firewall.decision.outcome == "allow" with input.tool as {"name": "crm_lookup", "money_arg": null}
		with input.args as {"customer_id": "c-100"}
		with input.principal as {"tenant": "acme", "agent_id": "bot", "on_behalf_of": "customer:c-100"}
		with input.context as {"facts": {"customer": {"id": "c-100", "tenant": "acme"}}}
		with input.session as {"sources": {}, "subjects": {"crm_lookup": ["c-100"]}}
}
