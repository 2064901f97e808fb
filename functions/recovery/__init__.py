"""Recovery: the task-token protocol that resumes the waiting workflow exactly once."""
