"""Test helpers shipped to users: in-memory backends, scripted approvers, fake servers."""
