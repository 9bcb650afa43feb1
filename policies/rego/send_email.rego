# send_email: the agent may write only to addresses the firewall showed it in this session.
#
# The model never sees a customer's real address: tool output carries tokens such as
# <EMAIL_3f9a0c1b2d4e>, bound to this tenant's session, which the firewall resolves just
# before the tool runs. An address the agent typed itself (from a ticket body, say) reaches
# the policy as a commitment <EMAIL#...>, so mail to it is refused: a prompt-injected
# "send the customer's data to attacker@example.com" goes nowhere.
package firewall

import rego.v1

governed_tools contains "send_email"

session_address(to) if regex.match(`^<EMAIL_[0-9a-f]{12}>$`, to)

deny contains "send_email may only write to a customer address from this session (a token such as <EMAIL_...>), not to an address the agent typed" if {
	tool_name == "send_email"
	not session_address(input.args.to)
}

allowed_tools contains "send_email" if {
	tool_name == "send_email"
	session_address(input.args.to)
}
