"""Distillation objectives: what the student is trained on, batch by batch."""
