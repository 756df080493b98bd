"""Lock stores for Rasa servers that share conversations (see README, "Scaling out")."""
