# The decision document at data.firewall.decision.
#
# Each tool's module (same package) adds its name to `governed_tools` and adds to:
#   deny           reasons to refuse the call (every one is reported)
#   hold           reasons a human must approve the call first
#   hold_quorum    how many approvers a hold needs (the largest wins)
#   allowed_tools  the tool's name when the call may run without a human
# Deny beats hold beats allow; a call nothing allows is denied.
package firewall

import rego.v1

import data.firewall.settings

tool_name := input.tool.name

deny contains "policy input has no tool name" if not is_string(tool_name)

deny contains sprintf("no policy allows tool '%s'", [tool_name]) if {
	is_string(tool_name)
	not governed_tools[tool_name]
}

default outcome := "deny"

outcome := "hold" if {
	count(deny) == 0
	count(hold) > 0
}

outcome := "allow" if {
	count(deny) == 0
	count(hold) == 0
	allowed_tools[tool_name]
}

# An array comprehension over sort(): regopy 1.5.2's sort() of a set yields a value
# that compares as a set, so `reasons == [...]` would never hold.
reasons := [r | some r in sort(deny)] if count(deny) > 0
else := [r | some r in sort(hold)] if count(hold) > 0
else := [] if outcome == "allow"
else := [sprintf("policy for tool '%v' allows nothing for this call", [tool_name])]

default quorum := 1

quorum := max(hold_quorum) if count(hold_quorum) > 0

hold_obligations := {
	"approvers": settings.approver_group,
	"quorum": quorum,
	"ttl_s": settings.hold_ttl_s,
}

obligations := hold_obligations if outcome == "hold"
else := {}

decision := {"outcome": outcome, "reasons": reasons, "obligations": obligations}
