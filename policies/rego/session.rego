# Session-aware rules: what happened earlier in the session changes what may happen now.
package firewall

import rego.v1

# Tools whose output put untrusted content (tickets, emails) into this session.
untrusted_sources contains event.tool if {
	some event in input.session.history
	"untrusted" in event.labels
}

# (a) Prompt injection arrives through tool output: after untrusted content entered the
# session, any money-moving call needs a human, whatever the amount. (One reason per
# source: regopy 1.5.2 emits broken JSON for concat() over a set in a compiled bundle.)
hold contains sprintf("untrusted content entered this session (from %s); a supervisor must confirm any money-moving call", [source]) if {
	is_string(input.tool.money_arg)
	some source in untrusted_sources
}

# (b) A session acting for one customer reads no other customer's record.
session_customers contains event.subject if {
	some event in input.session.history
	event.tool == "crm_lookup"
	event.outcome in {"allow", "ok"}
	is_string(event.subject)
}

session_customers contains trim_prefix(input.principal.on_behalf_of, "customer:") if {
	startswith(input.principal.on_behalf_of, "customer:")
}

deny contains sprintf("this session acts for customer '%v'; reading another customer's record ('%v') is not allowed", [customer, input.args.customer_id]) if {
	tool_name == "crm_lookup"
	some customer in session_customers
	not input.args.customer_id in session_customers
}
