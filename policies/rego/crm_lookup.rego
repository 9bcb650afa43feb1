# crm_lookup: read a customer record, only within the caller's own tenant.
package firewall

import rego.v1

governed_tools contains "crm_lookup"

crm_customer := input.context.facts.customer if tool_name == "crm_lookup"

deny contains "unknown customer: no customer matches this lookup; check the customer id" if {
	tool_name == "crm_lookup"
	not is_object(crm_customer)
}

deny contains sprintf("customer '%v' belongs to another tenant; look up only your own tenant's customers", [crm_customer.id]) if {
	crm_customer.tenant != input.principal.tenant
}

allowed_tools contains "crm_lookup" if {
	crm_customer.tenant == input.principal.tenant
}
