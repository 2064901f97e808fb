"""Callbacks from outside AWS (Slack's interactive buttons): verify first, then parse."""
