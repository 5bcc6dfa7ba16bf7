"""Widgets: they show state and forward intent to the controller."""
