# charge_card: charge a customer's card; always needs a supervisor.
package firewall

import rego.v1

governed_tools contains "charge_card"

charge_customer := input.context.facts.customer if tool_name == "charge_card"

deny contains "unknown customer: no customer matches this charge; check the customer id" if {
	tool_name == "charge_card"
	not is_object(charge_customer)
}

deny contains sprintf("customer '%v' belongs to another tenant; charge only your own tenant's customers", [charge_customer.id]) if {
	charge_customer.tenant != input.principal.tenant
}

deny contains sprintf("charge amount must be a positive number, got %v", [input.args.amount]) if {
	tool_name == "charge_card"
	not positive_charge
}

hold contains "card charges always need a supervisor's approval" if {
	tool_name == "charge_card"
}

positive_charge if {
	is_number(input.args.amount)
	input.args.amount > 0
}
