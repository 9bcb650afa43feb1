"""Framework adapters (LangChain, Slack, service); they depend on the core, never the reverse."""
