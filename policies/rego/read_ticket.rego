# read_ticket: read a support ticket of the caller's own tenant. Ticket bodies are written
# by customers (or attackers): the tool's output is labelled untrusted in firewall.toml.
package firewall

import rego.v1

governed_tools contains "read_ticket"

ticket := input.context.facts.ticket if tool_name == "read_ticket"

deny contains "unknown ticket: no ticket matches this id" if {
	tool_name == "read_ticket"
	not is_object(ticket)
}

deny contains sprintf("ticket '%v' belongs to another tenant", [ticket.id]) if {
	ticket.tenant != input.principal.tenant
}

allowed_tools contains "read_ticket" if {
	ticket.tenant == input.principal.tenant
}
