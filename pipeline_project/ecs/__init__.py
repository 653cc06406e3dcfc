"""The deployed instance's ECS plugins: a run launcher and a step executor that refuse escalation."""
