"""Custom Rasa graph components of the assistant."""
