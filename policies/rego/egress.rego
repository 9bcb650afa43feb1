# Egress: untrusted content must not choose where data goes.
#
# A tool declares the arguments that choose where data goes (`egress_args` in firewall.toml:
# a recipient, a URL, a payee); a tool's own module may name more (send_email.rego: to, cc,
# bcc). The firewall tells the policy where each token's value came from, never the value:
#   input.tokens[t]       {kind, tools, labels, sources: {label: [tools]}}
#   input.arg_sources[a]  {tokens, typed, tools, labels, sources}
# (`typed`: the argument holds something the agent wrote itself, outside tokens.)
#
# An egress argument untrusted content could have chosen needs a human (hold): a value
# seen in untrusted output, a token of unknown origin, or anything the agent wrote after
# untrusted content entered the session. A value once seen in untrusted content stays
# tainted even if a trusted tool shows it too (tools echo their input: a send_email
# result repeats the address it was given). If the call also carries personal data a
# trusted tool showed (the customer's address, phone, ...), it is exfiltration: deny.
package firewall

import rego.v1

egress_arg contains name if {
	some name in object.get(input.tool, "egress_args", [])
	is_string(name)
}

# The egress arguments this call sets.
egress_target contains name if {
	some name in egress_arg
	input.args[name] != null
}

arg_view(name) := object.get(object.get(input, "arg_sources", {}), name, {})

token_view(token) := object.get(object.get(input, "tokens", {}), token, {})

# Tools that showed the token's value in output not labelled untrusted, in input order
# (sorted). Reasons name the first: regopy 1.5.2 quotes the result of concat() inside
# sprintf() in a compiled bundle, which breaks the decision's JSON.
trusted_tools(token) := [tool |
	some tool in object.get(token_view(token), "tools", [])
	not tool in object.get(token_view(token), ["sources", "untrusted"], [])
]

tainted_token(token) if count(object.get(token_view(token), ["sources", "untrusted"], [])) > 0

tainted_token(token) if count(object.get(token_view(token), "tools", [])) == 0

egress_taint contains {"arg": name, "why": sprintf("came from untrusted content (%s)", [tool])} if {
	some name in egress_target
	some token in object.get(arg_view(name), "tokens", [])
	some tool in object.get(token_view(token), ["sources", "untrusted"], [])
}

egress_taint contains {"arg": name, "why": "holds a token of unknown origin"} if {
	some name in egress_target
	some token in object.get(arg_view(name), "tokens", [])
	count(object.get(token_view(token), "tools", [])) == 0
}

# Without arg_sources, an argument counts as written by the agent (fail closed).
egress_taint contains {
	"arg": name,
	"why": sprintf("was written by the agent after untrusted content entered this session (from %s)", [tool]),
} if {
	some name in egress_target
	object.get(arg_view(name), "typed", true) == true
	some tool in untrusted_sources
}

# Tainted tokens standing alone in an egress argument are where data goes, not what goes.
tainted_destination contains token if {
	some name in egress_target
	object.get(arg_view(name), "typed", true) == false
	some token in arg_view(name).tokens
	tainted_token(token)
}

hold contains sprintf("%s's '%s' %s; a human must confirm where this data goes", [tool_name, taint.arg, taint.why]) if {
	some taint in egress_taint
}

deny contains sprintf("%s would send personal data from %s (%s) to '%s', which %s; personal data never goes where untrusted content points", [tool_name, tools[0], token, taint.arg, taint.why]) if {
	some taint in egress_taint
	some view in object.get(input, "arg_sources", {})
	some token in object.get(view, "tokens", [])
	not tainted_destination[token]
	tools := trusted_tools(token)
	count(tools) > 0
}
