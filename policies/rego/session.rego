# Session-aware rules: what happened earlier in the session changes what may happen now.
package firewall

import rego.v1

# Tools whose output put untrusted content (tickets, emails) into this session, at any
# point: input.session.sources keeps every label's sources for the whole session.
untrusted_sources contains source if {
	some source in object.get(input.session, ["sources", "untrusted"], [])
}

# (a) Prompt injection arrives through tool output: after untrusted content entered the
# session, any money-moving call needs a human, whatever the amount. (One reason per
# source: regopy 1.5.2 emits broken JSON for concat() over a set in a compiled bundle.)
hold contains sprintf("untrusted content entered this session (from %s); a supervisor must confirm any money-moving call", [source]) if {
	is_string(input.tool.money_arg)
	some source in untrusted_sources
}

# (b) A session acting for one customer reads no other customer's record. The session's
# customers: those whose record it was allowed to read (input.session.subjects keeps the
# subjects of each tool's allowed calls), and the one the principal acts for.
session_customers contains customer if {
	some customer in object.get(input.session, ["subjects", "crm_lookup"], [])
	is_string(customer)
}

session_customers contains trim_prefix(input.principal.on_behalf_of, "customer:") if {
	startswith(input.principal.on_behalf_of, "customer:")
}

deny contains sprintf("this session acts for customer '%v'; reading another customer's record ('%v') is not allowed", [customer, input.args.customer_id]) if {
	tool_name == "crm_lookup"
	some customer in session_customers
	not input.args.customer_id in session_customers
}
