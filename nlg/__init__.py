"""Natural language generators for the Rasa server (endpoints.yml `nlg`)."""
