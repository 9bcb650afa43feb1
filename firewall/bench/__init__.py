"""`firewall bench`: the price of safety, measured side by side in one run."""
