"""Custom actions for the Pinecrest Outfitters assistant (served by rasa-sdk)."""
