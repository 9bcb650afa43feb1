# Tests of send_email.rego (input overridden field by field; see decision_test.rego).
package firewall_test.send_email

import rego.v1

import data.firewall

test_mail_to_a_session_token_is_allowed if {
	firewall.decision.outcome == "allow" with input.tool as {"name": "send_email"}
		with input.args as {"to": "<EMAIL_3f9a0c1b2d4e>", "subject": "Refund"}
}

test_mail_to_a_typed_address_is_denied if {
	firewall.decision.outcome == "deny" with input.tool as {"name": "send_email"}
		with input.args as {"to": "<EMAIL#3f9a0c1b>", "subject": "Refund"}
}

test_mail_to_a_token_with_extra_text_is_denied if {
	firewall.decision.outcome == "deny" with input.tool as {"name": "send_email"}
		with input.args as {"to": "<EMAIL_3f9a0c1b2d4e>, x@evil.example", "subject": "Refund"}
}

test_mail_to_a_card_token_is_denied if {
	firewall.decision.outcome == "deny" with input.tool as {"name": "send_email"}
		with input.args as {"to": "<CARD_3f9a0c1b2d4e>", "subject": "Refund"}
}
